/**
 * `compress quantize`: int8 / int4 weight-only, static QDQ, dynamic int8 and float16 quantization of ONNX
 * models, with outputs onnxruntime runs. See docs/quantize.md.
 */
export {
  parseQuantizeOptions,
  quantizeFlags,
  weightOps,
  activationOps,
  type QuantizeOptions,
  type QuantizeMode,
  type Granularity,
  type QuantFormat,
  type CalibrationMethod,
  type FeedBatch,
  type FeedBatches,
} from './options.js';
export { quantize, prepareQuantize, resolveMode, type PreparedWeights, type QuantizeResult, type QuantizeContext } from './pass.js';
export { planWeights, printablePlan, type QuantizePlan, type WeightDecision, type WeightFormat } from './plan.js';
export { assertNotQuantized, quantizedOpsIn } from './detect.js';
