/**
 * Concat (ONNX): joins tensors along `axis` (default 1 in opset 1, required from 4, negative from 11).
 * Shape tensors (all on the host) are joined on the host; anything touching tfjs is joined by tf.concat,
 * channels-last inputs (from convs) in that layout.
 */
import { ModelError } from '../../core/errors.js';
import { sizeOf } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { normAxis } from '../kernel.js';
import { allocHost, computeOnHost, copyBlock, fromTfResult } from '../util/host.js';
import { RTensor } from '../value.js';

/** Concatenates `xs` along `axis` (already normalised). */
export function concatTensors(xs: RTensor[], axis: number, ctx: KernelContext): RTensor {
  const first = xs[0]!;
  const rank = first.rank;
  const outDims = first.dims.slice();
  outDims[axis] = 0;
  for (const x of xs) {
    if (x.rank !== rank || x.dims.some((d, i) => i !== axis && d !== first.dims[i])) {
      throw new ModelError(`${ctx.node.describe()}: cannot concatenate shapes [${first.dims.join(',')}] and [${x.dims.join(',')}] on axis ${axis}`);
    }
    if (x.dataType !== first.dataType) throw new ModelError(`${ctx.node.describe()}: inputs have different types`);
    outDims[axis]! += x.dims[axis]!;
  }
  const dataType = first.dataType;
  if (computeOnHost(...xs)) {
    const outer = sizeOf(first.dims.slice(0, axis));
    const inner = sizeOf(first.dims.slice(axis + 1));
    const out = allocHost(dataType, sizeOf(outDims));
    let off = 0;
    for (let o = 0; o < outer; o++) {
      for (const x of xs) {
        const len = x.dims[axis]! * inner;
        copyBlock(out, off, x.host(), o * len, len);
        off += len;
      }
    }
    return RTensor.fromHost(dataType, outDims, out);
  }
  const nonEmpty = xs.filter((x) => x.size > 0);
  if (nonEmpty.length > 0 && nonEmpty.every((x) => x.channelsLast)) {
    // Channels-last inputs (from convs) are joined as they are, on the axis that holds `axis` there.
    // (One input comes back as a clone, a new tensor as a kernel must return.)
    return RTensor.fromNhwc(tf.concat(nonEmpty.map((x) => x.nhwc()), [0, 3, 1, 2][axis]!) as tf.Tensor4D, dataType);
  }
  if (nonEmpty.length === 0) return RTensor.fromTf(tf.zeros(outDims, first.tf.dtype), dataType);
  return fromTfResult(tf.concat(nonEmpty.map((x) => x.tf), axis), dataType, ...nonEmpty);
}

function concat(inputs: readonly (RTensor | null)[], ctx: KernelContext, axisAttr: number | undefined): RTensor[] {
  const xs = inputs.filter((x): x is RTensor => x !== null);
  if (xs.length === 0) throw new ModelError(`${ctx.node.describe()} has no inputs`);
  if (axisAttr === undefined) throw new ModelError(`${ctx.node.describe()} (opset ${ctx.opset}) needs the 'axis' attribute`);
  return [concatTensors(xs, normAxis(axisAttr, xs[0]!.rank, ctx), ctx)];
}

export const Concat: OpKernel[] = [
  { domain: '', opType: 'Concat', since: 1, run: (inputs, ctx) => concat(inputs, ctx, ctx.node.attrInt('axis', 1)) },
  { domain: '', opType: 'Concat', since: 4, run: (inputs, ctx) => concat(inputs, ctx, ctx.node.attrInt('axis')) },
];
