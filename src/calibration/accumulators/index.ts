/**
 * Streaming statistics of layer inputs for the data-aware passes: the Hessian X^T X (GPTQ, SparseGPT,
 * activation-aware SVD), the column norms (Wanda), and the column means beside either (bias correction).
 * The driver that feeds them block by block is ../sequential.ts.
 */
export type { ActivationAccumulator, ActivationLayout, AccumulatorFactory } from './accumulator.js';
export { HessianAccumulator, createHessian } from './hessian.js';
export { ColumnNormAccumulator, createColumnNorms } from './norms.js';
export { WithColumnMeans, withColumnMeans } from './means.js';
