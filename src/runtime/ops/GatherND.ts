/**
 * GatherND (ONNX, opset 11; `batch_dims` from 12): the last axis of `indices` holds k coordinates into
 * `data` (after `batch_dims` leading batch axes shared by both); each tuple selects the slice
 * data[b, i1..ik, ...]. Output dims: indices[:-1] + data[batch_dims + k:].
 */
import { ModelError } from '../../core/errors.js';
import { sizeOf } from '../../ir/tensor.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { computeOnHost, gatherFlat, stridesOf } from '../util/host.js';
import { readInts } from '../util/ints.js';
import type { RTensor } from '../value.js';

/**
 * For each index tuple, the flat offset of the slice it selects in `data`, and the slice size; shared
 * with ScatterND (batch_dims 0).
 */
export function tupleOffsets(dataDims: readonly number[], indices: RTensor, batchDims: number, ctx: KernelContext): { offsets: Int32Array; sliceSize: number } {
  const q = indices.rank;
  const k = indices.dims[q - 1];
  if (k === undefined || k > dataDims.length - batchDims) throw new ModelError(`${ctx.node.describe()}: the last indices dim (${k}) must be at most data rank - batch_dims`);
  for (let b = 0; b < batchDims; b++) {
    if (indices.dims[b] !== dataDims[b]) throw new ModelError(`${ctx.node.describe()}: batch dim ${b} differs between data and indices`);
  }
  const strides = stridesOf(dataDims);
  const idx = readInts(indices);
  const tuples = sizeOf(indices.dims.slice(0, q - 1));
  const perBatch = sizeOf(indices.dims.slice(batchDims, q - 1));
  const batchStride = batchDims > 0 ? strides[batchDims - 1]! : 0;
  const offsets = new Int32Array(tuples);
  for (let t = 0; t < tuples; t++) {
    let off = Math.floor(t / Math.max(perBatch, 1)) * batchStride;
    for (let j = 0; j < k; j++) {
      const dim = dataDims[batchDims + j]!;
      let v = idx[t * k + j]!;
      if (v < 0) v += dim;
      if (v < 0 || v >= dim) throw new ModelError(`${ctx.node.describe()}: index ${idx[t * k + j]} is out of range for a dim of ${dim}`);
      off += v * strides[batchDims + j]!;
    }
    offsets[t] = off;
  }
  return { offsets, sliceSize: sizeOf(dataDims.slice(batchDims + k)) };
}

function gatherND(inputs: readonly (RTensor | null)[], ctx: KernelContext): RTensor[] {
  const x = required(inputs, 0, ctx);
  const indices = required(inputs, 1, ctx);
  const batchDims = ctx.node.attrInt('batch_dims', 0);
  const { offsets, sliceSize } = tupleOffsets(x.dims, indices, batchDims, ctx);
  const k = indices.dims[indices.rank - 1]!;
  const outDims = [...indices.dims.slice(0, -1), ...x.dims.slice(batchDims + k)];
  const src = new Int32Array(offsets.length * sliceSize);
  for (let t = 0; t < offsets.length; t++) for (let s = 0; s < sliceSize; s++) src[t * sliceSize + s] = offsets[t]! + s;
  return [gatherFlat(x, outDims, src, computeOnHost(x))];
}

export const GatherND: OpKernel[] = [{ domain: '', opType: 'GatherND', since: 11, run: gatherND }];
