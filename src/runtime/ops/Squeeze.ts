/**
 * Squeeze (ONNX): removes size-1 axes: those listed (attribute before opset 13, INT64 input from 13;
 * negative from 11), or all of them when none are given. Listing an axis whose size is not 1 is an error.
 */
import { ModelError } from '../../core/errors.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { reshaped } from '../util/host.js';
import { normAxes, readInts } from '../util/ints.js';
import type { RTensor } from '../value.js';

function squeeze(x: RTensor, axes: number[] | undefined, ctx: KernelContext): RTensor[] {
  let drop: Set<number>;
  if (axes === undefined) {
    drop = new Set(x.dims.flatMap((d, i) => (d === 1 ? [i] : [])));
  } else {
    drop = new Set(normAxes(axes, x.rank, ctx));
    for (const a of drop) if (x.dims[a] !== 1) throw new ModelError(`${ctx.node.describe()}: cannot squeeze axis ${a} of size ${x.dims[a]} (shape [${x.dims.join(',')}])`);
  }
  return [reshaped(x, x.dims.filter((_, i) => !drop.has(i)))];
}

export const Squeeze: OpKernel[] = [
  { domain: '', opType: 'Squeeze', since: 1, run: (inputs, ctx) => squeeze(required(inputs, 0, ctx), ctx.node.attrInts('axes'), ctx) },
  { domain: '', opType: 'Squeeze', since: 13, run: (inputs, ctx) => squeeze(required(inputs, 0, ctx), inputs[1] ? readInts(inputs[1]) : undefined, ctx) },
];
