/**
 * Splitting a tensor into its slices along an axis and stacking slices back: the per-iteration plumbing
 * of Loop and Scan. Host tensors stay on the host; anything on tfjs uses tf.unstack / tf.stack.
 */
import { ModelError } from '../../core/errors.js';
import { sizeOf } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import { RTensor } from '../value.js';
import { allocHost, computeOnHost, copyBlock, reshaped, sliceAlong } from './host.js';

/** The slices of `x` along `axis`, each without that axis. The caller owns (and disposes) them. */
export function unstackTensor(x: RTensor, axis: number): RTensor[] {
  const len = x.dims[axis]!;
  const dims = x.dims.filter((_, i) => i !== axis);
  if (!computeOnHost(x)) return tf.unstack(x.tf, axis).map((t) => RTensor.fromTf(t, x.dataType));
  return Array.from({ length: len }, (_, i) => {
    const s = sliceAlong(x, axis, i, 1, true);
    return reshaped(s, dims);
  });
}

/** Stacks same-shaped tensors along a new `axis` (0..rank). Inputs stay the caller's. */
export function stackTensors(xs: RTensor[], axis: number): RTensor {
  const first = xs[0];
  if (!first) throw new ModelError('nothing to stack');
  for (const x of xs) {
    if (x.dims.length !== first.dims.length || x.dims.some((d, i) => d !== first.dims[i])) {
      throw new ModelError(`cannot stack shapes [${first.dims.join(',')}] and [${x.dims.join(',')}]: every iteration must produce the same shape`);
    }
  }
  const outDims = [...first.dims.slice(0, axis), xs.length, ...first.dims.slice(axis)];
  if (computeOnHost(...xs)) {
    const outer = sizeOf(first.dims.slice(0, axis));
    const inner = sizeOf(first.dims.slice(axis));
    const out = allocHost(first.dataType, sizeOf(outDims));
    let off = 0;
    for (let o = 0; o < outer; o++) {
      for (const x of xs) {
        copyBlock(out, off, x.host(), o * inner, inner);
        off += inner;
      }
    }
    return RTensor.fromHost(first.dataType, outDims, out);
  }
  return RTensor.fromTf(tf.stack(xs.map((x) => x.tf), axis), first.dataType);
}
