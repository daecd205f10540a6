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

/**
 * Bytes that wait in a file until someone reads them: external data, which onnx/load leaves on disk. The
 * IR reads them on first use of the tensor's data and can drop them again (`Tensor.release`), so a model
 * far larger than memory can be walked weight by weight. `path`, `offset` and `length` say where the raw
 * (little-endian, ONNX `raw_data` form) bytes are, so that a save can copy them through undecoded.
 */
export interface DataSource {
  /** The file's real path. */
  readonly path: string;
  readonly offset: number;
  readonly length: number;
  /** Reads and decodes the bytes into the tensor's canonical array (a new array on every call). */
  read(): TensorData;
  /** Throws when the file no longer holds what was there when the source was made (checked before a copy). */
  verify?(): void;
}

function isSource(x: TensorData | DataSource): x is DataSource {
  return !Array.isArray(x) && !ArrayBuffer.isView(x) && typeof (x as DataSource).read === 'function';
}

export class Tensor {
  name: string;
  dataType: number;
  dims: number[];
  docString?: string;
  /** How the file stored it; opaque to everything but onnx/. Cleared when the data is replaced wholesale. */
  encoding?: unknown;
  private stored: TensorData | undefined;
  private src: DataSource | undefined;
  /** The file the tensor was made from, kept when its data is replaced (see `revert`). */
  private origin: DataSource | undefined;

  /** `data` is the canonical array, or a source the data is read from when first needed. */
  constructor(dataType: number, dims: number[], data: TensorData | DataSource, name = '') {
    const expected = sizeOf(dims) * entriesPerElement(dataType);
    this.dataType = dataType;
    this.dims = dims;
    this.name = name;
    if (isSource(data)) {
      this.src = data;
      this.origin = data;
    } else {
      if (data.length !== expected) throw this.lengthError(data.length);
      this.stored = data;
    }
  }

  private lengthError(got: number): Error {
    const expected = sizeOf(this.dims) * entriesPerElement(this.dataType);
    return new Error(`tensor '${this.name}' (${dataTypeName(this.dataType)} [${this.dims.join(',')}]) needs ${expected} entries, got ${got}`);
  }

  /**
   * The data, for reading and writing: read from its file if it is not in memory yet. The caller may
   * change the array in place, so the tensor stops tracking its file (a save writes these entries and
   * `release` keeps them). Code that only reads uses `view()`, which lets the data go again.
   */
  get data(): TensorData {
    const d = this.view();
    this.src = undefined;
    return d;
  }

  set data(d: TensorData) {
    this.stored = d;
    this.src = undefined;
  }

  /**
   * The data for reading only (never change the array it returns): read from its file if needed; while
   * it still matches the file, `release` may drop it and a later call reads it again.
   */
  view(): TensorData {
    if (this.stored === undefined) {
      const d = this.src!.read();
      if (d.length !== sizeOf(this.dims) * entriesPerElement(this.dataType)) throw this.lengthError(d.length);
      this.stored = d;
    }
    return this.stored;
  }

  /** The file the data still matches (unchanged since it was read), if any. */
  get source(): DataSource | undefined {
    return this.src;
  }

  /** True when the data is in memory (always, for a tensor that has no file behind it). */
  get loaded(): boolean {
    return this.stored !== undefined;
  }

  /**
   * Records that the data now lives in a file region (a save has just written it there) and drops it from
   * memory; it is read back from there if needed. The source must hold exactly this tensor's data.
   */
  moveTo(source: DataSource): void {
    this.src = source;
    this.stored = undefined;
  }

  /**
   * Drops data that can be read again from its file, giving the memory back; returns whether it did.
   * Data that was changed (or never had a file) stays.
   */
  release(): boolean {
    if (this.src === undefined || this.stored === undefined) return false;
    this.stored = undefined;
    return true;
  }

  /**
   * Forgets every change made since the tensor was made from its file and drops the data from memory:
   * the next use reads the file again. For a pass that changes weights only for a while (GPTQ writes a
   * block's quantized values in place so that the blocks after it are calibrated on them, and writes the
   * final form elsewhere once the block is done). Returns false, keeping the data, for a tensor that was
   * not made from a file.
   */
  revert(): boolean {
    if (this.origin === undefined) return false;
    this.src = this.origin;
    this.stored = undefined;
    return true;
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
    return Array.from(this.view() as ArrayLike<number | bigint>, Number);
  }

  /**
   * A deep copy (the encoding is kept: same storage form on save). Data still on disk stays there: the
   * copy reads the same file when it needs to.
   */
  clone(name = this.name): Tensor {
    let t: Tensor;
    if (this.src && this.stored === undefined) {
      t = new Tensor(this.dataType, [...this.dims], this.src, name);
    } else {
      const src = this.view();
      const data = this.dataType === DataType.STRING ? (src as Uint8Array[]).map((b) => b.slice()) : (src as NumericArray).slice();
      t = new Tensor(this.dataType, [...this.dims], data, name);
      t.src = this.src;
      t.origin = this.origin;
    }
    t.docString = this.docString;
    t.encoding = this.encoding;
    return t;
  }
}
