/**
 * Tensors at the API boundary, in onnxruntime's shape `{ type, data, dims }`, so a caller can hand the
 * same feeds to onnxruntime-node and to us.
 */
import { DataType, dataTypeFromOrt, ortTypeName, dataTypeName } from '../core/dtype.js';
import { UsageError } from '../core/errors.js';
import type { NumericArray } from '../ir/tensor.js';
import { RTensor } from './value.js';

export interface OrtLikeTensor {
  type: string;
  data: ArrayLike<number> | ArrayLike<bigint> | string[] | NumericArray;
  dims: readonly number[];
}

/** onnxruntime-shaped tensor -> RTensor (data shared when already canonical). */
export function fromOrtLike(t: OrtLikeTensor, name = 'tensor'): RTensor {
  const dataType = dataTypeFromOrt(t.type);
  if (dataType === undefined) throw new UsageError(`'${name}' has unsupported tensor type '${t.type}'`);
  const dims = Array.from(t.dims, Number);
  if (dataType === DataType.STRING) {
    const enc = new TextEncoder();
    return RTensor.fromHost(dataType, dims, (t.data as string[]).map((s) => enc.encode(s)));
  }
  if (dataType === DataType.INT4 || dataType === DataType.UINT4) {
    throw new UsageError(`'${name}': packed ${t.type} feeds are not supported; unpack to int8/uint8`);
  }
  return RTensor.fromHost(dataType, dims, t.data as NumericArray);
}

/** RTensor -> onnxruntime-shaped tensor. */
export function toOrtLike(t: RTensor): OrtLikeTensor {
  const type = ortTypeName(t.dataType);
  if (!type) throw new UsageError(`outputs of type ${dataTypeName(t.dataType)} cannot be returned`);
  if (t.dataType === DataType.STRING) {
    const dec = new TextDecoder();
    return { type, data: (t.host() as Uint8Array[]).map((b) => dec.decode(b)), dims: t.dims.slice() };
  }
  return { type, data: t.host() as NumericArray, dims: t.dims.slice() };
}
