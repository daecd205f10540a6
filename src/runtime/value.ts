/**
 * RTensor: a value flowing through the executor. TensorFlow.js tensors hold only float32, int32 and bool,
 * so each RTensor keeps the ONNX data type it stands for and lives either on the tfjs side (for maths) or
 * on the host as the IR's canonical typed array (for shape arithmetic, int64, strings, exact integers).
 * Conversion happens on demand, once: float types map to float32, integer types to int32 (range-checked:
 * int64 ids narrow only when they fit), BOOL to bool.
 *
 * Layout: `dims` and `.tf` are always in ONNX's order, but a rank-4 [N, C, H, W] value computed by a
 * layout-aware kernel may be held channels-last ([N, H, W, C], see `fromNhwc`): the wasm backend's
 * convolutions and pools take only that layout, so a chain Conv -> elementwise -> Conv keeps it and
 * never transposes in between. A kernel that knows nothing of layouts reads `.tf` and gets [N, C, H, W],
 * transposed once on first use; one that does asks `channelsLast` and takes `nhwc()`.
 */
import { DataType, dataTypeName, isFloatType } from '../core/dtype.js';
import { ModelError } from '../core/errors.js';
import { float16BitsToFloat32, float32ToFloat16Bits, bfloat16BitsToFloat32, float32ToBfloat16Bits, float16ToFloat32Array, bfloat16ToFloat32Array } from '../core/float16.js';
import { arrayTypeOf, sizeOf, Tensor, type NumericArray, type TensorData } from '../ir/tensor.js';
import { tf } from './backend.js';
import { decodeMiniFloat, encodeMiniFloat, isMiniFloat } from './util/minifloat.js';

/** The tfjs dtype an ONNX type is computed in. */
export function tfDtypeOf(dataType: number): 'float32' | 'int32' | 'bool' | 'string' {
  if (dataType === DataType.BOOL) return 'bool';
  if (dataType === DataType.STRING) return 'string';
  if (isFloatType(dataType)) return 'float32';
  return 'int32';
}

/** The ONNX type of a tfjs dtype. */
export function dataTypeOfTf(dtype: string): number {
  switch (dtype) {
    case 'float32':
      return DataType.FLOAT;
    case 'int32':
      return DataType.INT32;
    case 'bool':
      return DataType.BOOL;
    case 'string':
      return DataType.STRING;
    default:
      throw new Error(`unexpected tfjs dtype ${dtype}`);
  }
}

export class RTensor {
  readonly dataType: number;
  readonly dims: number[];
  private _tf?: tf.Tensor;
  /** The [N, H, W, C] form of a rank-4 value computed by a layout-aware kernel (see `fromNhwc`). */
  private _nhwc?: tf.Tensor4D;
  private _host?: TensorData;
  /** False for tensors the session keeps across runs (constants, variables): dispose() leaves them. */
  owned = true;

  private constructor(dataType: number, dims: number[]) {
    this.dataType = dataType;
    this.dims = dims;
  }

  /** Wraps a tfjs tensor; `dataType` says which ONNX type it stands for (default: from its dtype). */
  static fromTf(t: tf.Tensor, dataType?: number): RTensor {
    const r = new RTensor(dataType ?? dataTypeOfTf(t.dtype), t.shape.slice());
    r._tf = t;
    return r;
  }

  /**
   * Wraps a channels-last tfjs tensor [N, H, W, C] holding the value [N, C, H, W] (`dims` are the latter;
   * `.tf` transposes on first use).
   */
  static fromNhwc(t: tf.Tensor4D, dataType?: number): RTensor {
    const [n, h, w, c] = t.shape;
    const r = new RTensor(dataType ?? dataTypeOfTf(t.dtype), [n, c, h, w]);
    r._nhwc = t;
    return r;
  }

  /** Wraps a host array in the IR's canonical layout for `dataType`. */
  static fromHost(dataType: number, dims: number[], data: TensorData): RTensor {
    const r = new RTensor(dataType, dims.slice());
    r._host = data;
    return r;
  }

  /** From plain numbers (converted to the canonical array of `dataType`). */
  static fromNumbers(dataType: number, dims: number[], values: ArrayLike<number>): RTensor {
    return RTensor.fromHost(dataType, dims, toCanonical(dataType, values));
  }

  /**
   * A view of an IR constant (the array is shared, not copied: do not mutate). Data still in its file
   * is read now; the IR tensor keeps tracking its file, so it may be released again.
   */
  static fromIr(t: Tensor): RTensor {
    return RTensor.fromHost(t.dataType, t.dims, t.view());
  }

  get size(): number {
    return sizeOf(this.dims);
  }

  get rank(): number {
    return this.dims.length;
  }

  /** True when the tfjs side exists already (no conversion needed to compute with it). */
  get onDevice(): boolean {
    return this._tf !== undefined || this._nhwc !== undefined;
  }

  /** True when the host array exists already (a constant from the IR, or a value read back). */
  get onHost(): boolean {
    return this._host !== undefined;
  }

  /**
   * True when the value is held channels-last (a layout-aware kernel made it): such kernels then compute
   * on `nhwc()` and hand their result on channels-last too.
   */
  get channelsLast(): boolean {
    return this._nhwc !== undefined;
  }

  /**
   * The value as a channels-last [N, H, W, C] tfjs tensor (rank 4 only): the held one when
   * `channelsLast`, else a fresh transpose, which is not kept (call inside a tidy): a feed's caller
   * would not know to free a copy kept on its tensor.
   */
  nhwc(): tf.Tensor4D {
    if (this._nhwc) return this._nhwc;
    if (this.rank !== 4) throw new Error(`nhwc() of a rank-${this.rank} value`);
    const [n, c, h, w] = this.dims as [number, number, number, number];
    return (movesOnlyUnitAxes(c, h, w) ? tf.reshape(this.tf, [n, h, w, c]) : tf.transpose(this.tf, [0, 2, 3, 1])) as tf.Tensor4D;
  }

  /** The tfjs tensor, converting from the host (or from channels-last) once. */
  get tf(): tf.Tensor {
    if (!this._tf && this._nhwc) this._tf = tf.keep(movesOnlyUnitAxes(...(this.dims.slice(1) as [number, number, number])) ? tf.reshape(this._nhwc, this.dims) : tf.transpose(this._nhwc, [0, 3, 1, 2]));
    if (!this._tf) {
      const dtype = tfDtypeOf(this.dataType);
      if (dtype === 'string') throw new ModelError(`string tensors cannot be computed with tfjs`);
      // tf.keep: the first access may happen inside a kernel's tf.tidy, which must not free a tensor this
      // RTensor (possibly a session constant) goes on pointing at.
      this._tf = tf.keep(tf.tensor(hostToTfArray(this.dataType, this._host!), this.dims, dtype));
    }
    return this._tf;
  }

  /**
   * The tfjs tensor for a one-off use: `.tf` when it exists, else a fresh conversion of the host array
   * that is not kept (call inside a tidy). For deriving a kept form of a constant (a conv filter in the
   * layout a kernel wants) without keeping the original on tfjs as well.
   */
  tfOnce(): tf.Tensor {
    if (this.onDevice || !this._host) return this.tf;
    const dtype = tfDtypeOf(this.dataType);
    if (dtype === 'string') throw new ModelError(`string tensors cannot be computed with tfjs`);
    return tf.tensor(hostToTfArray(this.dataType, this._host), this.dims, dtype);
  }

  /** The host array in the canonical layout of `dataType` (reads back from tfjs once). */
  host(): TensorData {
    if (!this._host) {
      const t = this.tf;
      this._host = t.dtype === 'string' ? (t.dataSync() as unknown as Uint8Array[]) : toCanonical(this.dataType, t.dataSync() as ArrayLike<number>);
    }
    return this._host;
  }

  /** Elements as numbers (int64 beyond 2^53 loses precision). Not for strings. */
  numbers(): number[] {
    const h = this.host();
    if (this.dataType === DataType.STRING) throw new Error('numbers() on a string tensor');
    return decodeToNumbers(this.dataType, h as NumericArray);
  }

  /** Values as float32 (fp16/bf16 decoded), for statistics and comparisons. */
  float32(): Float32Array {
    if (this.onDevice && this.tf.dtype === 'float32') return this.tf.dataSync() as Float32Array;
    const h = this.host();
    if (this.dataType === DataType.FLOAT) return (h as Float32Array).slice();
    if (this.dataType === DataType.FLOAT16) return float16ToFloat32Array(h as Uint16Array);
    if (this.dataType === DataType.BFLOAT16) return bfloat16ToFloat32Array(h as Uint16Array);
    return Float32Array.from(this.numbers());
  }

  /** An IR tensor copy of this value. */
  toIr(name = ''): Tensor {
    const h = this.host();
    return new Tensor(this.dataType, this.dims.slice(), this.dataType === DataType.STRING ? (h as Uint8Array[]).map((b) => b.slice()) : (h as NumericArray).slice(), name);
  }

  /** Marks every tfjs tensor held as kept by tfjs (out of the enclosing tidy), for values kept across runs. */
  keep(): void {
    if (this._tf) tf.keep(this._tf);
    if (this._nhwc) tf.keep(this._nhwc);
  }

  /** Frees the tfjs memory, unless the session keeps this tensor. */
  dispose(): void {
    if (!this.owned) return;
    if (this._tf) {
      this._tf.dispose();
      this._tf = undefined;
    }
    if (this._nhwc) {
      this._nhwc.dispose();
      this._nhwc = undefined;
    }
  }
}

/**
 * True when NCHW <-> NHWC moves only axes of size 1 (one channel, or a 1x1 image: a grayscale input, a
 * globally pooled value), so that the same bytes are both layouts and a reshape (free on wasm, one cheap
 * op on TensorFlow) replaces the transpose (a copy).
 */
function movesOnlyUnitAxes(c: number, h: number, w: number): boolean {
  return c === 1 || h * w === 1;
}

/** Canonical host array of `dataType` from plain numbers (range checks for the narrow integer types are the caller's). */
export function toCanonical(dataType: number, values: ArrayLike<number>): NumericArray {
  const Ctor = arrayTypeOf(dataType);
  if (Ctor === 'string') throw new Error('toCanonical on strings');
  const n = values.length;
  if (dataType === DataType.FLOAT16) {
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) out[i] = float32ToFloat16Bits(values[i]!);
    return out;
  }
  if (dataType === DataType.BFLOAT16) {
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) out[i] = float32ToBfloat16Bits(values[i]!);
    return out;
  }
  if (dataType === DataType.INT64 || dataType === DataType.UINT64) {
    const out = dataType === DataType.INT64 ? new BigInt64Array(n) : new BigUint64Array(n);
    for (let i = 0; i < n; i++) out[i] = BigInt(Math.trunc(values[i]!));
    return out;
  }
  if (isMiniFloat(dataType)) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = encodeMiniFloat(values[i]!, dataType);
    return out;
  }
  if (isFloatType(dataType) && dataType !== DataType.FLOAT && dataType !== DataType.DOUBLE) {
    throw new ModelError(`computing in ${dataTypeName(dataType)} is not supported`);
  }
  if (dataType === DataType.BOOL) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = values[i] ? 1 : 0;
    return out;
  }
  const out = new Ctor(n);
  (out as Float32Array).set(values as ArrayLike<number>);
  return out;
}

/** Plain numbers from a canonical host array. */
export function decodeToNumbers(dataType: number, data: NumericArray): number[] {
  if (dataType === DataType.FLOAT16) return Array.from(data as Uint16Array, float16BitsToFloat32);
  if (dataType === DataType.BFLOAT16) return Array.from(data as Uint16Array, bfloat16BitsToFloat32);
  if (isMiniFloat(dataType)) return Array.from(data as Uint8Array, (c) => decodeMiniFloat(c, dataType));
  return Array.from(data as ArrayLike<number | bigint>, Number);
}

/** The array handed to tf.tensor for a canonical host array (float32 / int32 / bool-as-uint8). */
function hostToTfArray(dataType: number, data: TensorData): Float32Array | Int32Array | Uint8Array {
  const d = data as NumericArray;
  if (dataType === DataType.FLOAT) return d as Float32Array;
  if (dataType === DataType.BOOL) return d as Uint8Array;
  if (dataType === DataType.INT32) return d as Int32Array;
  if (dataType === DataType.FLOAT16) return float16ToFloat32Array(d as Uint16Array);
  if (dataType === DataType.BFLOAT16) return bfloat16ToFloat32Array(d as Uint16Array);
  if (isFloatType(dataType)) return Float32Array.from(decodeToNumbers(dataType, d));
  // Integer types computed in int32: narrow with a range check (int64 ids, uint32 beyond 2^31 fail loudly).
  const out = new Int32Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const v = Number(d[i]!);
    if (v > 2147483647 || v < -2147483648) {
      throw new ModelError(`a ${dataTypeName(dataType)} value ${String(d[i])} does not fit the int32 that tfjs computes in`);
    }
    out[i] = v;
  }
  return out;
}
