/**
 * The ONNX protobuf schema, current as of ONNX 1.20 (IR version 13), as a protobufjs reflection Root.
 * Checked field by field against onnx 1.23's onnx-ml.proto: its messages are these; it only adds the
 * version 14 enum value and the FLOAT6 data types (27, 28) of an IR version not yet published.
 *
 * Why not onnx-proto's static module: it was generated from ONNX 1.10 and silently drops every field added
 * since (NodeProto.metadata_props and device_configurations, FunctionProto.overload / value_info /
 * metadata_props / attribute_proto, ModelProto.configuration, TensorProto.metadata_props, ...); a model
 * read and written through it loses them. Its d.ts types are not used either: they describe those 1.10
 * messages and type `data_type` as a closed enum that cannot name INT4 or FLOAT8. onnx-proto stays a
 * dependency only as a cross-check: test/onnx checks that every field it knows has the same number and
 * wire type here.
 *
 * The text below is onnx.proto (onnx/onnx, onnx/onnx.in.proto with ONNX-ML on, so that the ML-only
 * TypeProto.opaque_type is known too), comments shortened. Field numbers were checked against the
 * upstream file; proto2 is kept so that optional fields have presence and `[packed = true]` is written
 * only where ONNX asks for it (repeated `dims`, `ints`, `floats` stay unpacked, as onnx writes them).
 *
 * protobufjs 8 can keep fields it does not know in a non-enumerable `$unknowns` list and write them back
 * (our decoders ask it to), so fields newer than this schema survive a load -> save.
 */
import protobuf from 'protobufjs';
import Long from 'long';

/** onnx.proto as protobuf text. */
export const ONNX_PROTO = `
syntax = "proto2";
package onnx;

enum Version {
  _START_VERSION = 0;
  IR_VERSION_2017_10_10 = 1;
  IR_VERSION_2017_10_30 = 2;
  IR_VERSION_2017_11_3 = 3;
  IR_VERSION_2019_1_22 = 4;
  IR_VERSION_2019_3_18 = 5;
  IR_VERSION_2019_9_19 = 6;
  IR_VERSION_2020_5_8 = 7;
  IR_VERSION_2021_7_30 = 8;
  IR_VERSION_2023_5_5 = 9;
  IR_VERSION_2024_3_25 = 10;
  IR_VERSION_2025_05_12 = 11;
  // Added FLOAT8E8M0.
  IR_VERSION_2025_08_26 = 12;
  // Added UINT2, INT2.
  IR_VERSION = 13;
}

message AttributeProto {
  reserved 12, 16 to 19;
  reserved "v";
  enum AttributeType {
    UNDEFINED = 0;
    FLOAT = 1;
    INT = 2;
    STRING = 3;
    TENSOR = 4;
    GRAPH = 5;
    SPARSE_TENSOR = 11;
    TYPE_PROTO = 13;
    FLOATS = 6;
    INTS = 7;
    STRINGS = 8;
    TENSORS = 9;
    GRAPHS = 10;
    SPARSE_TENSORS = 12;
    TYPE_PROTOS = 14;
  }
  optional string name = 1;
  // In a function body: the caller's attribute this one takes its value from.
  optional string ref_attr_name = 21;
  optional string doc_string = 13;
  optional AttributeType type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  optional GraphProto g = 6;
  optional SparseTensorProto sparse_tensor = 22;
  optional TypeProto tp = 14;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
  repeated SparseTensorProto sparse_tensors = 23;
  repeated TypeProto type_protos = 15;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
  repeated StringStringEntryProto metadata_props = 4;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  // Selects a model-local function among several with the same (domain, name).
  optional string overload = 8;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
  repeated StringStringEntryProto metadata_props = 9;
  repeated NodeDeviceConfigurationProto device_configurations = 10;
}

message IntIntListEntryProto {
  optional int64 key = 1;
  repeated int64 value = 2;
}

message NodeDeviceConfigurationProto {
  optional string configuration_id = 1;
  repeated ShardingSpecProto sharding_spec = 2;
  optional int32 pipeline_stage = 3;
}

message ShardingSpecProto {
  optional string tensor_name = 1;
  repeated int64 device = 2;
  repeated IntIntListEntryProto index_to_device_group_map = 3;
  repeated ShardedDimProto sharded_dim = 4;
}

message ShardedDimProto {
  optional int64 axis = 1;
  repeated SimpleShardedDimProto simple_sharding = 2;
}

message SimpleShardedDimProto {
  oneof dim {
    int64 dim_value = 1;
    string dim_param = 2;
  }
  optional int64 num_shards = 3;
}

message TrainingInfoProto {
  optional GraphProto initialization = 1;
  optional GraphProto algorithm = 2;
  repeated StringStringEntryProto initialization_binding = 3;
  repeated StringStringEntryProto update_binding = 4;
}

message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
  repeated TrainingInfoProto training_info = 20;
  repeated FunctionProto functions = 25;
  // Multi-device configurations (IR 11).
  repeated DeviceConfigurationProto configuration = 26;
}

message DeviceConfigurationProto {
  optional string name = 1;
  optional int32 num_devices = 2;
  repeated string device = 3;
}

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message TensorAnnotation {
  optional string tensor_name = 1;
  repeated StringStringEntryProto quant_parameter_tensor_names = 2;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  repeated SparseTensorProto sparse_initializer = 15;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
  repeated TensorAnnotation quantization_annotation = 14;
  repeated StringStringEntryProto metadata_props = 16;
  reserved 3, 4, 6 to 9;
  reserved "ir_version", "producer_version", "producer_tag", "domain";
}

message TensorProto {
  enum DataType {
    UNDEFINED = 0;
    FLOAT = 1;
    UINT8 = 2;
    INT8 = 3;
    UINT16 = 4;
    INT16 = 5;
    INT32 = 6;
    INT64 = 7;
    STRING = 8;
    BOOL = 9;
    FLOAT16 = 10;
    DOUBLE = 11;
    UINT32 = 12;
    UINT64 = 13;
    COMPLEX64 = 14;
    COMPLEX128 = 15;
    BFLOAT16 = 16;
    FLOAT8E4M3FN = 17;
    FLOAT8E4M3FNUZ = 18;
    FLOAT8E5M2 = 19;
    FLOAT8E5M2FNUZ = 20;
    UINT4 = 21;
    INT4 = 22;
    FLOAT4E2M1 = 23;
    FLOAT8E8M0 = 24;
    // IR 13: 2-bit integers, four per byte. Tensors of them are not decoded (loading one is a one-line
    // error); a value of either type keeps its number, as data_type and elem_type are plain int32s.
    UINT2 = 25;
    INT2 = 26;
  }
  repeated int64 dims = 1;
  // An int32, not the enum: data types newer than this schema keep their number.
  optional int32 data_type = 2;
  message Segment {
    optional int64 begin = 1;
    optional int64 end = 2;
  }
  optional Segment segment = 3;
  repeated float float_data = 4 [packed = true];
  // INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16/BFLOAT16 bits, FLOAT8 bits: one element each;
  // INT4, UINT4, FLOAT4E2M1: one packed byte (two elements, low nibble first) each.
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional string doc_string = 12;
  // Fixed-width little-endian elements; 4-bit types packed two per byte, low nibble first.
  optional bytes raw_data = 9;
  // location / offset / length / checksum, relative to the model's folder.
  repeated StringStringEntryProto external_data = 13;
  enum DataLocation {
    DEFAULT = 0;
    EXTERNAL = 1;
  }
  optional DataLocation data_location = 14;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
  repeated StringStringEntryProto metadata_props = 16;
}

message SparseTensorProto {
  // [NNZ] values; its name names the sparse tensor.
  optional TensorProto values = 1;
  // [NNZ, rank] coordinates or [NNZ] linear indices, ascending.
  optional TensorProto indices = 2;
  repeated int64 dims = 3;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
    optional string denotation = 3;
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  message Sequence {
    optional TypeProto elem_type = 1;
  }
  message Map {
    optional int32 key_type = 1;
    optional TypeProto value_type = 2;
  }
  message Optional {
    optional TypeProto elem_type = 1;
  }
  message SparseTensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  // ONNX-ML only.
  message Opaque {
    optional string domain = 1;
    optional string name = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
    Sequence sequence_type = 4;
    Map map_type = 5;
    Optional optional_type = 9;
    SparseTensor sparse_tensor_type = 8;
    Opaque opaque_type = 7;
  }
  optional string denotation = 6;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}

enum OperatorStatus {
  EXPERIMENTAL = 0;
  STABLE = 1;
}

message FunctionProto {
  optional string name = 1;
  reserved 2;
  reserved "since_version";
  reserved 3;
  reserved "status";
  repeated string input = 4;
  repeated string output = 5;
  // Attribute names without defaults.
  repeated string attribute = 6;
  // Attributes with defaults.
  repeated AttributeProto attribute_proto = 11;
  repeated NodeProto node = 7;
  optional string doc_string = 8;
  repeated OperatorSetIdProto opset_import = 9;
  optional string domain = 10;
  optional string overload = 13;
  repeated ValueInfoProto value_info = 12;
  repeated StringStringEntryProto metadata_props = 14;
}
`;

// int64 fields decode to Long objects (exact), never to lossy doubles; make sure protobufjs has Long
// whichever way it was loaded.
if (!protobuf.util.Long) {
  protobuf.util.Long = Long as unknown as typeof protobuf.util.Long;
  protobuf.configure();
}

/** The parsed schema (camelCase field names, as protobufjs generates them). */
export const root: protobuf.Root = protobuf.parse(ONNX_PROTO).root;
root.resolveAll();

function lookup(name: string): protobuf.Type {
  return root.lookupType(`onnx.${name}`);
}

/** The message types, for decode / encode. */
export const Types = {
  ModelProto: lookup('ModelProto'),
  GraphProto: lookup('GraphProto'),
  NodeProto: lookup('NodeProto'),
  AttributeProto: lookup('AttributeProto'),
  TensorProto: lookup('TensorProto'),
  SparseTensorProto: lookup('SparseTensorProto'),
  ValueInfoProto: lookup('ValueInfoProto'),
  TypeProto: lookup('TypeProto'),
  FunctionProto: lookup('FunctionProto'),
  TrainingInfoProto: lookup('TrainingInfoProto'),
  OperatorSetIdProto: lookup('OperatorSetIdProto'),
  StringStringEntryProto: lookup('StringStringEntryProto'),
} as const;

// ---------------------------------------------------------------------------------------------------
// TypeScript shapes of the decoded messages. Every field is optional: protobufjs leaves absent proto2
// fields off the object (their defaults live on the prototype), so `Object.hasOwn(m, 'name')` tells
// presence. int64 fields are Long when decoded; we also write plain numbers.

/** An int64 as protobufjs reads (Long) or accepts (number, Long). */
export type Int64 = number | Long;

/** Fields the message kept but the schema does not know (protobufjs 8), written back verbatim. */
export interface WithUnknowns {
  $unknowns?: Uint8Array[];
}

export interface StringStringEntryProto extends WithUnknowns {
  key?: string;
  value?: string;
}

export interface OperatorSetIdProto extends WithUnknowns {
  domain?: string;
  version?: Int64;
}

export interface TensorProto extends WithUnknowns {
  dims?: Int64[];
  dataType?: number;
  segment?: { begin?: Int64; end?: Int64 };
  floatData?: ArrayLike<number>;
  int32Data?: ArrayLike<number>;
  stringData?: Uint8Array[];
  int64Data?: Int64[];
  name?: string;
  docString?: string;
  rawData?: Uint8Array;
  externalData?: StringStringEntryProto[];
  dataLocation?: number;
  doubleData?: ArrayLike<number>;
  uint64Data?: Int64[];
  metadataProps?: StringStringEntryProto[];
}

export interface SparseTensorProto extends WithUnknowns {
  values?: TensorProto;
  indices?: TensorProto;
  dims?: Int64[];
}

export interface DimensionProto extends WithUnknowns {
  dimValue?: Int64;
  dimParam?: string;
  denotation?: string;
  /** protobufjs's virtual oneof member: which of dimValue / dimParam is set. */
  value?: 'dimValue' | 'dimParam';
}

export interface TensorShapeProto extends WithUnknowns {
  dim?: DimensionProto[];
}

export interface TypeProto extends WithUnknowns {
  tensorType?: { elemType?: number; shape?: TensorShapeProto } & WithUnknowns;
  sequenceType?: { elemType?: TypeProto };
  mapType?: { keyType?: number; valueType?: TypeProto };
  optionalType?: { elemType?: TypeProto };
  sparseTensorType?: { elemType?: number; shape?: TensorShapeProto };
  opaqueType?: { domain?: string; name?: string };
  denotation?: string;
  /** the oneof member set */
  value?: string;
}

export interface ValueInfoProto extends WithUnknowns {
  name?: string;
  type?: TypeProto;
  docString?: string;
  metadataProps?: StringStringEntryProto[];
}

export interface AttributeProto extends WithUnknowns {
  name?: string;
  refAttrName?: string;
  docString?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparseTensor?: SparseTensorProto;
  tp?: TypeProto;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
  sparseTensors?: SparseTensorProto[];
  typeProtos?: TypeProto[];
}

export interface NodeProto extends WithUnknowns {
  input?: string[];
  output?: string[];
  name?: string;
  opType?: string;
  domain?: string;
  overload?: string;
  attribute?: AttributeProto[];
  docString?: string;
  metadataProps?: StringStringEntryProto[];
  deviceConfigurations?: unknown[];
}

export interface TensorAnnotation extends WithUnknowns {
  tensorName?: string;
  quantParameterTensorNames?: StringStringEntryProto[];
}

export interface GraphProto extends WithUnknowns {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  sparseInitializer?: SparseTensorProto[];
  docString?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
  quantizationAnnotation?: TensorAnnotation[];
  metadataProps?: StringStringEntryProto[];
}

export interface TrainingInfoProto extends WithUnknowns {
  initialization?: GraphProto;
  algorithm?: GraphProto;
  initializationBinding?: StringStringEntryProto[];
  updateBinding?: StringStringEntryProto[];
}

export interface FunctionProto extends WithUnknowns {
  name?: string;
  input?: string[];
  output?: string[];
  attribute?: string[];
  attributeProto?: AttributeProto[];
  node?: NodeProto[];
  docString?: string;
  opsetImport?: OperatorSetIdProto[];
  domain?: string;
  overload?: string;
  valueInfo?: ValueInfoProto[];
  metadataProps?: StringStringEntryProto[];
}

export interface ModelProto extends WithUnknowns {
  irVersion?: Int64;
  opsetImport?: OperatorSetIdProto[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: Int64;
  docString?: string;
  graph?: GraphProto;
  metadataProps?: StringStringEntryProto[];
  trainingInfo?: TrainingInfoProto[];
  functions?: FunctionProto[];
  configuration?: unknown[];
}

/** TensorProto.DataLocation.EXTERNAL */
export const DATA_LOCATION_EXTERNAL = 1;

/** True when the decoded message carries the field itself (not the prototype's default). */
export function has<T extends object>(message: T, field: keyof T & string): boolean {
  return Object.prototype.hasOwnProperty.call(message, field);
}

/** Decodes bytes as a ModelProto (throws protobufjs errors; load.ts turns them into ModelErrors). */
export function decodeModelProto(bytes: Uint8Array): ModelProto {
  return Types.ModelProto.decode(keepingUnknowns(bytes)) as unknown as ModelProto;
}

/**
 * A reader that keeps unknown fields: protobufjs discards them unless asked, per reader, and we want
 * fields newer than this schema to survive a round trip.
 */
function keepingUnknowns(bytes: Uint8Array): protobuf.Reader {
  const reader = protobuf.Reader.create(bytes);
  reader.discardUnknown = false;
  return reader;
}

/** Encodes a ModelProto-shaped object (plain objects or decoded messages). */
export function encodeModelProto(model: ModelProto): Uint8Array {
  return Types.ModelProto.encode(model as unknown as protobuf.Message).finish();
}

/** Decodes bytes as a TensorProto (e.g. the input_0.pb files of the ONNX test layout). */
export function decodeTensorProto(bytes: Uint8Array): TensorProto {
  return Types.TensorProto.decode(keepingUnknowns(bytes)) as unknown as TensorProto;
}

/** Encodes a TensorProto-shaped object. */
export function encodeTensorProto(tensor: TensorProto): Uint8Array {
  return Types.TensorProto.encode(tensor as unknown as protobuf.Message).finish();
}

/** An int64 field value as a JS number (exact below 2^53). */
export function int64ToNumber(v: Int64 | undefined | null): number {
  if (v === undefined || v === null) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** An int64 field value as a bigint (always exact). */
export function int64ToBigInt(v: Int64 | undefined | null, unsigned = false): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'number') return BigInt(v);
  const lo = BigInt(v.low >>> 0);
  const hi = BigInt(v.high >>> 0);
  const u = (hi << 32n) | lo;
  return unsigned || v.unsigned ? u : BigInt.asIntN(64, u);
}

/** A number or bigint as what protobufjs writes exactly: a number when safe, else a Long. */
export function toInt64(v: number | bigint, unsigned = false): Int64 {
  if (typeof v === 'number') return v;
  if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  const u = BigInt.asUintN(64, v);
  return Long.fromBits(Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0, unsigned);
}
