/**
 * ONNX TensorProto.DataType numbers and facts about them. The numbers are ONNX's (onnx.proto), including
 * those added after onnx-proto's 1.10 schema (bfloat16 is 16, float8 17..20, uint4/int4 21/22, float4 23).
 */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
} as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

const names: Record<number, string> = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k]));

/** "FLOAT", "INT4", ... or "DataType(99)" for a number we do not know. */
export function dataTypeName(t: number): string {
  return names[t] ?? `DataType(${t})`;
}

/** onnxruntime's tensor type strings, used at the API boundary. */
export type OrtTypeName =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool'
  | 'string'
  | 'int4'
  | 'uint4';

const ortNames: Partial<Record<number, OrtTypeName>> = {
  [DataType.FLOAT]: 'float32',
  [DataType.DOUBLE]: 'float64',
  [DataType.FLOAT16]: 'float16',
  [DataType.INT8]: 'int8',
  [DataType.UINT8]: 'uint8',
  [DataType.INT16]: 'int16',
  [DataType.UINT16]: 'uint16',
  [DataType.INT32]: 'int32',
  [DataType.UINT32]: 'uint32',
  [DataType.INT64]: 'int64',
  [DataType.UINT64]: 'uint64',
  [DataType.BOOL]: 'bool',
  [DataType.STRING]: 'string',
  [DataType.INT4]: 'int4',
  [DataType.UINT4]: 'uint4',
};

/** The onnxruntime type string of an ONNX data type, or undefined when onnxruntime-node has none. */
export function ortTypeName(t: number): OrtTypeName | undefined {
  return ortNames[t];
}

/** The ONNX data type of an onnxruntime type string. */
export function dataTypeFromOrt(name: string): DataType | undefined {
  for (const [k, v] of Object.entries(ortNames)) if (v === name) return Number(k) as DataType;
  return undefined;
}

/** Bits one element occupies on disk (4 for the packed 4-bit types, 0 for STRING). */
export function bitsPerElement(t: number): number {
  switch (t) {
    case DataType.DOUBLE:
    case DataType.INT64:
    case DataType.UINT64:
    case DataType.COMPLEX64:
      return 64;
    case DataType.COMPLEX128:
      return 128;
    case DataType.FLOAT:
    case DataType.INT32:
    case DataType.UINT32:
      return 32;
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
    case DataType.INT16:
    case DataType.UINT16:
      return 16;
    case DataType.INT8:
    case DataType.UINT8:
    case DataType.BOOL:
    case DataType.FLOAT8E4M3FN:
    case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2:
    case DataType.FLOAT8E5M2FNUZ:
      return 8;
    case DataType.INT4:
    case DataType.UINT4:
    case DataType.FLOAT4E2M1:
      return 4;
    default:
      return 0;
  }
}

/** True for the floating-point types (including fp16/bf16/fp8/fp4). */
export function isFloatType(t: number): boolean {
  return (
    t === DataType.FLOAT ||
    t === DataType.DOUBLE ||
    t === DataType.FLOAT16 ||
    t === DataType.BFLOAT16 ||
    (t >= DataType.FLOAT8E4M3FN && t <= DataType.FLOAT8E5M2FNUZ) ||
    t === DataType.FLOAT4E2M1
  );
}
