/**
 * `compress distill`: knowledge distillation of a teacher ONNX model into a student ONNX model, trained
 * on TensorFlow.js through the runtime's training mode. See docs/distill.md.
 */
export { parseDistillOptions, distillDefaults, type DistillOptions, type DistillTask, type HiddenPair } from './options.js';
export { distill, trainableTensors, DistillInterrupted, type DistillContext, type DistillResult, type TrainedTensor } from './pass.js';
export { saveCheckpoint, loadCheckpoint, encodeNpyFloat32, type Checkpoint, type CheckpointState, type NamedArray } from './checkpoint.js';
export { AdamW, Rng, shuffled, learningRate, clipByGlobalNorm, defaultWarmup, defaultAdamW, type AdamWConfig, type Schedule } from './train.js';
export { softTargetLoss, crossEntropy, meanSquaredError, combineLoss, nextTokenPairs } from './loss.js';
