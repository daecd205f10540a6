/**
 * Shape (ONNX): the input's dims as a 1-D INT64 tensor on the host. Opset 15 adds `start`/`end`
 * (slice of the dims, negative counts from the back, clamped to [0, rank]).
 */
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { clamp, int64Tensor } from '../util/ints.js';
import type { RTensor } from '../value.js';

function shape(inputs: readonly (RTensor | null)[], ctx: KernelContext, sliced: boolean): RTensor[] {
  const dims = required(inputs, 0, ctx).dims;
  if (!sliced) return [int64Tensor(dims)];
  const rank = dims.length;
  const norm = (v: number) => clamp(v < 0 ? v + rank : v, 0, rank);
  const start = norm(ctx.node.attrInt('start', 0));
  const end = norm(ctx.node.attrInt('end', rank));
  return [int64Tensor(dims.slice(start, Math.max(start, end)))];
}

export const Shape: OpKernel[] = [
  { domain: '', opType: 'Shape', since: 1, run: (inputs, ctx) => shape(inputs, ctx, false) },
  { domain: '', opType: 'Shape', since: 15, run: (inputs, ctx) => shape(inputs, ctx, true) },
];
