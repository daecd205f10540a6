/**
 * ScatterND (ONNX, opset 11): a copy of `data` where the slices addressed by the index tuples in the
 * last axis of `indices` are replaced by `updates` (shape indices[:-1] + data[k:]); opset 16 adds
 * `reduction` add/mul, 18 max/min.
 */
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { reductionOf, scatterInto } from '../util/scatter.js';
import type { RTensor } from '../value.js';
import { tupleOffsets } from './GatherND.js';

function scatterND(inputs: readonly (RTensor | null)[], ctx: KernelContext): RTensor[] {
  const x = required(inputs, 0, ctx);
  const indices = required(inputs, 1, ctx);
  const updates = required(inputs, 2, ctx);
  const { offsets, sliceSize } = tupleOffsets(x.dims, indices, 0, ctx);
  const targets = new Int32Array(offsets.length * sliceSize);
  for (let t = 0; t < offsets.length; t++) for (let s = 0; s < sliceSize; s++) targets[t * sliceSize + s] = offsets[t]! + s;
  return [scatterInto(x, updates, targets, ctx.opset >= 16 ? reductionOf(ctx) : 'none', ctx)];
}

export const ScatterND: OpKernel[] = [{ domain: '', opType: 'ScatterND', since: 11, run: scatterND }];
