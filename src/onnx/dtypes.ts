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
export function decodeRawData(dataType: number, bytes: Uint8Array, entries: number, label: string, owned = false): TensorData {
  if (dataType === DataType.STRING) throw modelError(`${label} is a STRING tensor stored in raw_data, which ONNX does not allow`);
  const expected = rawByteLength(dataType, entries);
  if (bytes.length !== expected) {
    throw modelError(`${label} has ${bytes.length} bytes of data, expected ${expected} for ${entries} ${dataTypeName(dataType)} values`);
  }
  if (isPacked4Bit(dataType)) return unpack4Bit(bytes, entries, dataType === DataType.INT4);
  const ctor = canonicalArrayType(dataType) as unknown as { new (buffer: ArrayBuffer, offset: number, length: number): NumericArray };
  // `owned`: the bytes are a whole fresh buffer nobody else holds (a read of external data): no copy.
  const buffer = owned && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : alignedCopy(bytes);
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
// float16 and bfloat16 conversions live in core/float16.ts (one implementation for the whole tool).
export {
  bfloat16BitsToFloat32,
  bfloat16ToFloat32Array,
  float16BitsToFloat32,
  float16ToFloat32Array,
  float32ToBfloat16Array,
  float32ToBfloat16Bits,
  float32ToFloat16Array,
  float32ToFloat16Bits,
} from '../core/float16.js';
