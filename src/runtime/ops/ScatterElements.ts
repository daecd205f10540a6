/**
 * ScatterElements (ONNX, opset 11): a copy of `data` where out[..., indices[i,j,k], ...] (on `axis`)
 * = updates[i,j,k]; negative indices count from the end; opset 16 adds `reduction` add/mul, 18 max/min.
 */
import { ModelError } from '../../core/errors.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { normAxis, required } from '../kernel.js';
import { stridesOf } from '../util/host.js';
import { reductionOf, scatterInto, type Reduction } from '../util/scatter.js';
import type { RTensor } from '../value.js';
import { normIndices } from './Gather.js';

/** The shared body of ScatterElements and the older Scatter. */
export function scatterElements(inputs: readonly (RTensor | null)[], ctx: KernelContext, reduction: Reduction): RTensor[] {
  const x = required(inputs, 0, ctx);
  const indices = required(inputs, 1, ctx);
  const updates = required(inputs, 2, ctx);
  const axis = normAxis(ctx.node.attrInt('axis', 0), x.rank, ctx);
  if (indices.rank !== x.rank || updates.dims.some((d, i) => d !== indices.dims[i])) {
    throw new ModelError(`${ctx.node.describe()}: indices [${indices.dims.join(',')}] and updates [${updates.dims.join(',')}] must have one shape, of data's rank ${x.rank}`);
  }
  const idx = normIndices(indices, x.dims[axis]!, ctx);
  const strides = stridesOf(x.dims);
  const dims = indices.dims;
  const rank = dims.length;
  const targets = new Int32Array(idx.length);
  const counter = new Array<number>(rank).fill(0);
  for (let i = 0; i < idx.length; i++) {
    let off = 0;
    for (let a = 0; a < rank; a++) off += (a === axis ? idx[i]! : counter[a]!) * strides[a]!;
    targets[i] = off;
    for (let a = rank - 1; a >= 0; a--) {
      if (++counter[a]! < dims[a]!) break;
      counter[a] = 0;
    }
  }
  return [scatterInto(x, updates, targets, reduction, ctx)];
}

export const ScatterElements: OpKernel[] = [
  { domain: '', opType: 'ScatterElements', since: 11, run: (inputs, ctx) => scatterElements(inputs, ctx, ctx.opset >= 16 ? reductionOf(ctx) : 'none') },
];
