/**
 * Unsqueeze (ONNX): inserts size-1 axes at the listed positions of the output (attribute `axes` before
 * opset 13, INT64 input from 13; negative from 11, counted against the output rank; any order).
 */
import { ModelError } from '../../core/errors.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { reshaped } from '../util/host.js';
import { normAxes, readInts } from '../util/ints.js';
import type { RTensor } from '../value.js';

function unsqueeze(x: RTensor, axes: number[] | undefined, ctx: KernelContext): RTensor[] {
  if (!axes) throw new ModelError(`${ctx.node.describe()} needs axes`);
  const outRank = x.rank + axes.length;
  const at = new Set(normAxes(axes, outRank, ctx));
  const dims: number[] = [];
  let k = 0;
  for (let i = 0; i < outRank; i++) dims.push(at.has(i) ? 1 : x.dims[k++]!);
  return [reshaped(x, dims)];
}

export const Unsqueeze: OpKernel[] = [
  { domain: '', opType: 'Unsqueeze', since: 1, run: (inputs, ctx) => unsqueeze(required(inputs, 0, ctx), ctx.node.attrInts('axes'), ctx) },
  { domain: '', opType: 'Unsqueeze', since: 13, run: (inputs, ctx) => unsqueeze(required(inputs, 0, ctx), readInts(required(inputs, 1, ctx)), ctx) },
];
