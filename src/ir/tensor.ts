/**
 * Constant tensors (initializers, Constant values, tensor attributes) in the IR.
 *
 * Each data type has one canonical in-memory array (see `TensorData`), so code below never has to ask
 * how the file stored it: the 4-bit types are unpacked to one element per entry, float16/bfloat16 and
 * float8 are kept as their bit patterns, int64 as BigInt64Array, strings as byte arrays. How the file
 * stored the tensor (raw_data or a typed field, external data) is kept in `encoding`, opaque here and
 * read back by onnx/save so that load -> save reproduces the same fields.
 */
import { DataType, dataTypeName } from '../core/dtype.js';

export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** STRING tensors hold one byte array per element; every other type a typed array. */
export type TensorData = NumericArray | Uint8Array[];

/** The canonical array constructor of each data type. */
export function arrayTypeOf(dataType: number): { new (n: number): NumericArray } | 'string' {
  switch (dataType) {
    case DataType.FLOAT:
    case DataType.COMPLEX64:
      return Float32Array;
    case DataType.DOUBLE:
    case DataType.COMPLEX128:
      return Float64Array;
    case DataType.INT8:
    case DataType.INT4:
      return Int8Array;
    case DataType.UINT8:
    case DataType.BOOL:
    case DataType.UINT4:
    case DataType.FLOAT4E2M1:
    case DataType.FLOAT8E4M3FN:
    case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2:
    case DataType.FLOAT8E5M2FNUZ:
      return Uint8Array;
    case DataType.INT16:
      return Int16Array;
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return Uint16Array;
    case DataType.INT32:
      return Int32Array;
    case DataType.UINT32:
      return Uint32Array;
    case DataType.INT64:
      return BigInt64Array;
    case DataType.UINT64:
      return BigUint64Array;
    case DataType.STRING:
      return 'string';
    default:
      throw new Error(`no array type for ${dataTypeName(dataType)}`);
  }
}

/** Number of array entries per element (2 for the complex types). */
export function entriesPerElement(dataType: number): number {
  return dataType === DataType.COMPLEX64 || dataType === DataType.COMPLEX128 ? 2 : 1;
}

/** Product of dims (1 for a scalar). */
export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export class Tensor {
  name: string;
  dataType: number;
  dims: number[];
  data: TensorData;
  docString?: string;
  /** How the file stored it; opaque to everything but onnx/. Cleared when the data is replaced wholesale. */
  encoding?: unknown;

  constructor(dataType: number, dims: number[], data: TensorData, name = '') {
    const expected = sizeOf(dims) * entriesPerElement(dataType);
    if (data.length !== expected) {
      throw new Error(
        `tensor '${name}' (${dataTypeName(dataType)} [${dims.join(',')}]) needs ${expected} entries, got ${data.length}`,
      );
    }
    this.dataType = dataType;
    this.dims = dims;
    this.data = data;
    this.name = name;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.dims);
  }

  get rank(): number {
    return this.dims.length;
  }

  /** A float32 tensor. */
  static float32(dims: number[], data: Float32Array | number[], name = ''): Tensor {
    return new Tensor(DataType.FLOAT, dims, data instanceof Float32Array ? data : Float32Array.from(data), name);
  }

  /** An int64 tensor from numbers. */
  static int64(dims: number[], data: ArrayLike<number | bigint>, name = ''): Tensor {
    const arr = new BigInt64Array(data.length);
    for (let i = 0; i < data.length; i++) arr[i] = BigInt(data[i]!);
    return new Tensor(DataType.INT64, dims, arr, name);
  }

  /** Numeric elements as plain numbers (int64 beyond 2^53 loses precision; not for strings). */
  toNumbers(): number[] {
    if (this.dataType === DataType.STRING) throw new Error(`tensor '${this.name}' holds strings`);
    return Array.from(this.data as ArrayLike<number | bigint>, Number);
  }

  /** A deep copy (the encoding is kept: same storage form on save). */
  clone(name = this.name): Tensor {
    const data =
      this.dataType === DataType.STRING
        ? (this.data as Uint8Array[]).map((b) => b.slice())
        : (this.data as NumericArray).slice();
    const t = new Tensor(this.dataType, [...this.dims], data, name);
    t.docString = this.docString;
    t.encoding = this.encoding;
    return t;
  }
}
