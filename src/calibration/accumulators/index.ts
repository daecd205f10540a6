/**
 * Streaming statistics of layer inputs for the data-aware passes: the Hessian X^T X (GPTQ, SparseGPT,
 * activation-aware SVD) and the column norms (Wanda). The driver that feeds them block by block is
 * ../sequential.ts.
 */
export type { ActivationAccumulator, ActivationLayout, AccumulatorFactory } from './accumulator.js';
export { HessianAccumulator, createHessian } from './hessian.js';
export { ColumnNormAccumulator, createColumnNorms } from './norms.js';
