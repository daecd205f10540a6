/**
 * The accumulator interface: a statistic of the activations that enter a weight (the input X of a
 * MatMul/Gemm, flattened to [tokens, K]) gathered batch by batch as calibration data streams through the
 * model. GPTQ, SparseGPT and activation-aware SVD use the Hessian X^T X (hessian.ts); Wanda uses the
 * column norms ||X_j||_2 (norms.ts). One forward sweep can feed several accumulators (STYLE.md habit 3).
 */
import type { RTensor } from '../../runtime/value.js';

/** How the activation tensor holds the K inputs of the layer. */
export interface ActivationLayout {
  /** Length of the reduction axis (the weight's K). */
  K: number;
  /**
   * False: the last axis is K and every other axis is tokens (MatMul, Gemm transA = 0).
   * True: the tensor is [K, tokens] (Gemm transA = 1).
   */
  transposed: boolean;
}

/** A streaming statistic of one layer input. Create, accumulate batch by batch, then read the result. */
export interface ActivationAccumulator {
  readonly K: number;
  /** Rows (tokens) accumulated so far. */
  readonly samples: number;
  /** Adds one batch of activations (the tensor stays the caller's). */
  add(x: RTensor, layout: ActivationLayout): void;
  /** Frees what the accumulator holds on the tfjs backend. */
  dispose(): void;
}

/** Makes a fresh accumulator for a layer input of length K. */
export type AccumulatorFactory<A extends ActivationAccumulator> = (K: number) => A;
