/**
 * Tensor element data between TensorProto's storage forms and the IR's canonical arrays (ir/tensor.ts):
 * the 4-bit types unpacked one element per entry, float16 / bfloat16 / float8 kept as their bit patterns,
 * int64 as BigInt64Array, strings as byte arrays. Plus the float16 and bfloat16 conversions the numeric
 * code needs (round to nearest, ties to even, as IEEE 754 and numpy do).
 *
 * The storage rules are onnx.proto's: raw_data holds fixed-width little-endian elements (BOOL one byte,
 * 4-bit types two per byte, low nibble first, an odd count padded with a zero nibble); the typed fields
 * are float_data (FLOAT, COMPLEX64), double_data (DOUBLE, COMPLEX128), int64_data (INT64), uint64_data
 * (UINT32, UINT64), string_data (STRING) and int32_data for everything else, one element per entry except
 * the 4-bit types, whose entries are packed bytes.
 */
import { DataType, dataTypeName } from '../core/dtype.js';
import type { ModelError } from '../core/errors.js';
import { arrayTypeOf, entriesPerElement, type NumericArray, type TensorData } from '../ir/tensor.js';
import { modelError } from './errors.js';
import { int64ToBigInt, toInt64, type Int64, type TensorProto } from './schema.js';

/** FLOAT8E8M0 (ONNX 1.18, the microscaling scale type): not in core/dtype.ts yet; 8 bits, kept as bits. */
export const FLOAT8E8M0 = 24;

/** How a tensor's elements were stored: the raw_data bytes or the type's repeated field. */
export type StorageForm = 'raw' | 'typed';

/** The repeated TensorProto field that holds a data type's elements outside raw_data. */
export type TypedField = 'floatData' | 'int32Data' | 'stringData' | 'int64Data' | 'doubleData' | 'uint64Data';

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** True for the types stored two elements per byte. */
export function isPacked4Bit(dataType: number): boolean {
  return dataType === DataType.INT4 || dataType === DataType.UINT4 || dataType === DataType.FLOAT4E2M1;
}

/** True when we know how to hold this data type's elements. */
export function isKnownDataType(dataType: number): boolean {
  return (dataType >= DataType.FLOAT && dataType <= DataType.FLOAT4E2M1) || dataType === FLOAT8E8M0;
}

/** The canonical array constructor (ir arrayTypeOf, plus FLOAT8E8M0's bits). */
export function canonicalArrayType(dataType: number): { new (n: number): NumericArray } | 'string' {
  return dataType === FLOAT8E8M0 ? Uint8Array : arrayTypeOf(dataType);
}

/** Bytes one array entry occupies in raw_data (the 4-bit types answer 0: they pack). */
function rawEntryBytes(dataType: number): number {
  if (isPacked4Bit(dataType)) return 0;
  const ctor = canonicalArrayType(dataType);
  if (ctor === 'string') return 0;
  return (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
}

/** The typed field a data type uses. */
export function typedFieldOf(dataType: number): TypedField {
  switch (dataType) {
    case DataType.FLOAT:
    case DataType.COMPLEX64:
      return 'floatData';
    case DataType.DOUBLE:
    case DataType.COMPLEX128:
      return 'doubleData';
    case DataType.INT64:
      return 'int64Data';
    case DataType.UINT32:
    case DataType.UINT64:
      return 'uint64Data';
    case DataType.STRING:
      return 'stringData';
    default:
      return 'int32Data';
  }
}

/** Number of raw_data bytes `entries` array entries take. */
export function rawByteLength(dataType: number, entries: number): number {
  if (isPacked4Bit(dataType)) return Math.ceil(entries / 2);
  return entries * rawEntryBytes(dataType);
}

/** A copy of `bytes` in a fresh, aligned buffer (raw_data often is an unaligned view into the file). */
function alignedCopy(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}

/** Reverses the byte order of each `width`-byte element in place (only on big-endian hosts). */
function swapBytes(buffer: ArrayBuffer, width: number): void {
  const b = new Uint8Array(buffer);
  for (let i = 0; i + width <= b.length; i += width) {
    for (let j = 0; j < width / 2; j++) {
      const t = b[i + j]!;
      b[i + j] = b[i + width - 1 - j]!;
      b[i + width - 1 - j] = t;
    }
  }
}

/** Unpacks 4-bit elements (low nibble first); signed types are sign-extended. */
export function unpack4Bit(bytes: Uint8Array, count: number, signed: boolean): Int8Array | Uint8Array {
  const out = signed ? new Int8Array(count) : new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const nibble = (bytes[i >> 1]! >> ((i & 1) << 2)) & 0xf;
    out[i] = signed ? (nibble << 28) >> 28 : nibble;
  }
  return out;
}

/** Packs 4-bit elements two per byte, low nibble first; an odd count leaves the last high nibble zero. */
export function pack4Bit(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) out[i >> 1]! |= (values[i]! & 0xf) << ((i & 1) << 2);
  return out;
}

/**
 * Decodes raw_data into the canonical array of `entries` entries.
 * Throws a ModelError naming `label` when the byte count does not match.
 */
export function decodeRawData(dataType: number, bytes: Uint8Array, entries: number, label: string): TensorData {
  if (dataType === DataType.STRING) throw modelError(`${label} is a STRING tensor stored in raw_data, which ONNX does not allow`);
  const expected = rawByteLength(dataType, entries);
  if (bytes.length !== expected) {
    throw modelError(`${label} has ${bytes.length} bytes of data, expected ${expected} for ${entries} ${dataTypeName(dataType)} values`);
  }
  if (isPacked4Bit(dataType)) return unpack4Bit(bytes, entries, dataType === DataType.INT4);
  const ctor = canonicalArrayType(dataType) as unknown as { new (buffer: ArrayBuffer, offset: number, length: number): NumericArray };
  const buffer = alignedCopy(bytes);
  const width = rawEntryBytes(dataType);
  if (!hostIsLittleEndian && width > 1) swapBytes(buffer, width);
  return new ctor(buffer, 0, entries);
}

/** Encodes the canonical array as raw_data bytes (a view of the array itself when no conversion is needed). */
export function encodeRawData(dataType: number, data: TensorData): Uint8Array {
  if (dataType === DataType.STRING) throw new Error('STRING tensors are stored in string_data, not raw_data');
  const arr = data as NumericArray;
  if (isPacked4Bit(dataType)) return pack4Bit(arr as Int8Array | Uint8Array);
  const view = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
  if (hostIsLittleEndian || arr.BYTES_PER_ELEMENT === 1) return view;
  const copy = alignedCopy(view);
  swapBytes(copy, arr.BYTES_PER_ELEMENT);
  return new Uint8Array(copy);
}

/**
 * Decodes the typed field of `proto` into the canonical array of `entries` entries.
 * The 4-bit types hold packed bytes in int32_data; a writer that put one element per entry instead is
 * accepted too (the two readings only agree for a single element, where either is right).
 */
export function decodeTypedData(proto: TensorProto, dataType: number, entries: number, label: string): TensorData {
  const field = typedFieldOf(dataType);
  const values = (proto[field] ?? []) as ArrayLike<unknown>;
  const mismatch = (expected: number): ModelError =>
    modelError(`${label} has ${values.length} values in ${snake(field)}, expected ${expected} for ${entries} ${dataTypeName(dataType)} values`);

  if (isPacked4Bit(dataType)) {
    const ints = values as ArrayLike<number>;
    const packedCount = Math.ceil(entries / 2);
    let bytes: Uint8Array;
    if (ints.length === packedCount) bytes = Uint8Array.from(ints, (v) => v & 0xff);
    else if (ints.length === entries) bytes = pack4Bit(ints);
    else throw mismatch(packedCount);
    return unpack4Bit(bytes, entries, dataType === DataType.INT4);
  }
  if (values.length !== entries) throw mismatch(entries);
  switch (field) {
    case 'stringData':
      return Array.from(values as ArrayLike<Uint8Array>, (b) => {
        const copy = new Uint8Array(b.length);
        copy.set(b);
        return copy;
      });
    case 'int64Data':
      return BigInt64Array.from(values as ArrayLike<Int64>, (v) => int64ToBigInt(v));
    case 'uint64Data':
      if (dataType === DataType.UINT32) return Uint32Array.from(values as ArrayLike<Int64>, (v) => Number(int64ToBigInt(v, true)));
      return BigUint64Array.from(values as ArrayLike<Int64>, (v) => int64ToBigInt(v, true));
    default: {
      // Typed arrays' from() wraps out-of-range numbers the way a C cast would (int32 -1 -> uint16 65535).
      const ctor = canonicalArrayType(dataType) as unknown as { from(a: ArrayLike<number>): NumericArray };
      return ctor.from(values as ArrayLike<number>);
    }
  }
}

/** The typed-field form of the canonical array: `{ floatData: [...] }`, `{ int32Data: [...] }`, ... */
export function encodeTypedData(dataType: number, data: TensorData): Partial<TensorProto> {
  const field = typedFieldOf(dataType);
  if (dataType === DataType.STRING) return { stringData: data as Uint8Array[] };
  if (isPacked4Bit(dataType)) return { int32Data: Int32Array.from(pack4Bit(data as Uint8Array)) };
  switch (field) {
    case 'int64Data':
      return { int64Data: Array.from(data as BigInt64Array, (v) => toInt64(v)) };
    case 'uint64Data':
      if (dataType === DataType.UINT32) return { uint64Data: Array.from(data as Uint32Array) };
      return { uint64Data: Array.from(data as BigUint64Array, (v) => toInt64(v, true)) };
    case 'floatData':
      return { floatData: data as Float32Array };
    case 'doubleData':
      return { doubleData: data as Float64Array };
    default:
      // int32_data entries are signed ints: widen each element (uint16 bits stay 0..65535).
      return { int32Data: Int32Array.from(data as ArrayLike<number>) };
  }
}

/**
 * Decodes a TensorProto's elements (raw_data when present, else the typed field) into the canonical array
 * for its dims. External data must already have been read into raw_data (load.ts does).
 */
export function decodeTensorData(proto: TensorProto, dataType: number, dims: readonly number[], label: string): { data: TensorData; form: StorageForm } {
  if (!isKnownDataType(dataType)) {
    throw modelError(`${label} has data type ${dataType}, which this version of compress does not know`, 'upgrade compress, or convert the tensor to a standard type');
  }
  let elements = 1;
  for (const d of dims) elements *= d;
  const entries = elements * entriesPerElement(dataType);
  if (Object.prototype.hasOwnProperty.call(proto, 'rawData') && proto.rawData) {
    return { data: decodeRawData(dataType, proto.rawData, entries, label), form: 'raw' };
  }
  return { data: decodeTypedData(proto, dataType, entries, label), form: 'typed' };
}

function snake(field: string): string {
  return field.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
}

// ---------------------------------------------------------------------------------------------------
// float16 and bfloat16. The bit patterns come and go through a shared scratch word so that NaN payloads
// and signed zeros survive; the array versions read the float32 bits straight from the source buffer.

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 bits -> float16 bits, rounding to nearest even; overflow gives +-Inf, NaN stays NaN. */
function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  if (exp >= 143) return sign | 0x7c00; // >= 2^16: beyond the largest half (65504) even after rounding
  if (exp >= 113) {
    // Normal half: rebias the exponent, keep 10 mantissa bits, round on the 13 dropped ones. A carry out
    // of the mantissa bumps the exponent, which is exactly right (and reaches Inf from 65520 up).
    let h = ((exp - 112) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) !== 0)) h++;
    return sign | h;
  }
  if (exp < 102) return sign; // below half the smallest subnormal (2^-25): rounds to zero
  // Subnormal half: the value in units of 2^-24 is the full significand shifted right.
  const m = mant | 0x800000;
  const shift = 126 - exp;
  let h = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (h & 1) !== 0)) h++;
  return sign | h;
}

/** float16 bits -> float32 bits (exact: every half is a float). */
function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal: normalise the mantissa into a float32 normal.
  let e = 113;
  let m = mant;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

/** float32 bits -> bfloat16 bits, rounding to nearest even; NaN stays (quiet) NaN. */
function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  const bias = 0x7fff + ((x >>> 16) & 1);
  return ((x + bias) >>> 16) & 0xffff;
}

/** The float16 bit pattern nearest to `value` (ties to even). */
export function float32ToFloat16Bits(value: number): number {
  scratchF32[0] = value;
  return f32BitsToF16Bits(scratchU32[0]!);
}

/** The value of a float16 bit pattern. */
export function float16BitsToFloat32(bits: number): number {
  scratchU32[0] = f16BitsToF32Bits(bits & 0xffff);
  return scratchF32[0]!;
}

/** The bfloat16 bit pattern nearest to `value` (ties to even). */
export function float32ToBfloat16Bits(value: number): number {
  scratchF32[0] = value;
  return f32BitsToBf16Bits(scratchU32[0]!);
}

/** The value of a bfloat16 bit pattern. */
export function bfloat16BitsToFloat32(bits: number): number {
  scratchU32[0] = (bits & 0xffff) << 16;
  return scratchF32[0]!;
}

let f16Table: Float32Array | undefined;

/** float16 bits -> float32 values (a 65536-entry table, built on first use, makes this a lookup). */
export function float16ToFloat32Array(bits: Uint16Array): Float32Array {
  if (!f16Table) {
    const table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = f16BitsToF32Bits(h);
    f16Table = new Float32Array(table.buffer);
  }
  const out = new Float32Array(bits.length);
  const table = new Uint32Array(f16Table.buffer);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = table[bits[i]!]!;
  return out;
}

/** float32 values -> float16 bits (ties to even). */
export function float32ToFloat16Array(values: Float32Array): Uint16Array {
  const src = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToF16Bits(src[i]!);
  return out;
}

/** bfloat16 bits -> float32 values. */
export function bfloat16ToFloat32Array(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i]! << 16;
  return out;
}

/** float32 values -> bfloat16 bits (ties to even). */
export function float32ToBfloat16Array(values: Float32Array): Uint16Array {
  const src = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToBf16Bits(src[i]!);
  return out;
}
