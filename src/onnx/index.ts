/**
 * ONNX files <-> the IR. The only module that touches protobuf: everything else works on ir/ objects.
 */
export { loadModel, typeFromProto, MIN_IR_VERSION, MAX_IR_VERSION, type LoadOptions } from './load.js';
export { readRange, saveModel, serializeModel, stageModel, type SaveOptions, type ExternalDataOptions, type StagedModel } from './save.js';
export { readTensorProto, writeTensorProto } from './tensorio.js';
export {
  FLOAT8E8M0,
  isPacked4Bit,
  pack4Bit,
  unpack4Bit,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  bfloat16BitsToFloat32,
  float32ToBfloat16Bits,
  float16ToFloat32Array,
  float32ToFloat16Array,
  bfloat16ToFloat32Array,
  float32ToBfloat16Array,
} from './dtypes.js';
