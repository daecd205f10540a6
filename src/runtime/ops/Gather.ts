/**
 * Gather (ONNX): picks slices of `data` along `axis` (default 0) at `indices` (int32/int64, negative
 * counts from the end since opset 11). Output dims: data[:axis] + indices + data[axis+1:].
 * Host tensors (shape arithmetic), and constant tables picked by host indices (embeddings, at
 * inference), are gathered on the host; other data on tfjs is one tf.gather with int32 indices.
 */
import { ModelError } from '../../core/errors.js';
import { sizeOf } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { normAxis, required } from '../kernel.js';
import { gatherWithGrad } from '../util/gathergrad.js';
import { allocHost, computeOnHost, copyBlock } from '../util/host.js';
import { readInts } from '../util/ints.js';
import { RTensor } from '../value.js';

/** Indices made non-negative and checked against `dim`, as an Int32Array. */
export function normIndices(indices: RTensor, dim: number, ctx: KernelContext): Int32Array {
  const raw = readInts(indices);
  const out = new Int32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i]! < 0 ? raw[i]! + dim : raw[i]!;
    if (v < 0 || v >= dim) throw new ModelError(`${ctx.node.describe()}: index ${raw[i]} is out of range for a dim of ${dim}`);
    out[i] = v;
  }
  return out;
}

function gather(inputs: readonly (RTensor | null)[], ctx: KernelContext): RTensor[] {
  const x = required(inputs, 0, ctx);
  const indices = required(inputs, 1, ctx);
  const axis = normAxis(ctx.node.attrInt('axis', 0), x.rank, ctx);
  const dim = x.dims[axis]!;
  const outDims = [...x.dims.slice(0, axis), ...indices.dims, ...x.dims.slice(axis + 1)];
  // A constant table (an embedding) gathered by host indices: rows copied from its IR array, a memcpy
  // each, where tfjs-wasm's Gather indexes element by element (2 ms for 256 rows of 128 floats).
  const constantTable = !ctx.training && !x.owned && x.onHost && !indices.onDevice;
  if (constantTable || computeOnHost(x)) {
    const idx = normIndices(indices, dim, ctx);
    const outer = sizeOf(x.dims.slice(0, axis));
    const inner = sizeOf(x.dims.slice(axis + 1));
    const out = allocHost(x.dataType, sizeOf(outDims));
    const src = x.host();
    const k = idx.length;
    for (let o = 0; o < outer; o++) for (let j = 0; j < k; j++) copyBlock(out, (o * k + j) * inner, src, (o * dim + idx[j]!) * inner, inner);
    return [RTensor.fromHost(x.dataType, outDims, out)];
  }
  // Materialise the tfjs tensors outside the tidy, which would free one created lazily inside it.
  const xt = x.tf;
  const it = indices.onDevice ? indices.tf : null;
  const t = tf.tidy(() => {
    let idx: tf.Tensor;
    if (it) {
      // Indices computed on tfjs stay there: wrap negatives with a select instead of reading back.
      const i = tf.cast(it, 'int32');
      idx = tf.where(tf.less(i, 0), tf.add(i, dim), i);
    } else {
      idx = tf.tensor(normIndices(indices, dim, ctx), indices.dims, 'int32');
    }
    // Training: a gradient the wasm backend can run (util/gathergrad.ts).
    return tf.reshape(ctx.training ? gatherWithGrad(xt, idx, axis) : tf.gather(xt, idx, axis), outDims);
  });
  return [RTensor.fromTf(t, x.dataType)];
}

export const Gather: OpKernel[] = [{ domain: '', opType: 'Gather', since: 1, run: gather }];
