/**
 * GatherElements (ONNX, opset 11): out[i][j][k] = data[index[i][j][k]][j][k] for axis 0 (likewise for
 * other axes); `indices` has the output's shape, negative indices count from the end.
 */
import { ModelError } from '../../core/errors.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { normAxis, required } from '../kernel.js';
import { computeOnHost, gatherFlat, stridesOf } from '../util/host.js';
import type { RTensor } from '../value.js';
import { normIndices } from './Gather.js';

function gatherElements(inputs: readonly (RTensor | null)[], ctx: KernelContext): RTensor[] {
  const x = required(inputs, 0, ctx);
  const indices = required(inputs, 1, ctx);
  const axis = normAxis(ctx.node.attrInt('axis', 0), x.rank, ctx);
  if (indices.rank !== x.rank) throw new ModelError(`${ctx.node.describe()}: indices rank ${indices.rank} differs from data rank ${x.rank}`);
  const idx = normIndices(indices, x.dims[axis]!, ctx);
  const inStrides = stridesOf(x.dims);
  const outDims = indices.dims;
  const rank = outDims.length;
  const src = new Int32Array(idx.length);
  const counter = new Array<number>(rank).fill(0);
  for (let i = 0; i < idx.length; i++) {
    let off = 0;
    for (let a = 0; a < rank; a++) off += (a === axis ? idx[i]! : counter[a]!) * inStrides[a]!;
    src[i] = off;
    for (let a = rank - 1; a >= 0; a--) {
      if (++counter[a]! < outDims[a]!) break;
      counter[a] = 0;
    }
  }
  return [gatherFlat(x, outDims.slice(), src, computeOnHost(x))];
}

export const GatherElements: OpKernel[] = [{ domain: '', opType: 'GatherElements', since: 11, run: gatherElements }];
