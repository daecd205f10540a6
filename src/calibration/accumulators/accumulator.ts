/**
 * The accumulator interface: a statistic of the activations that enter a weight (the input X of a
 * MatMul/Gemm, flattened to [tokens, K]) gathered batch by batch as calibration data streams through the
 * model. GPTQ, SparseGPT and activation-aware SVD use the Hessian X^T X (hessian.ts); Wanda uses the
 * column norms ||X_j||_2 (norms.ts). One forward sweep can feed several accumulators (STYLE.md habit 3).
 */
import type { Node } from '../../ir/node.js';
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
  /**
   * A Conv's input [N, C, *spatial]: its rows are the patches under the kernel (tensor/im2col.ts), K of
   * them per group, one row per output pixel; with several groups each group has its own statistic.
   */
  conv?: ConvLayout;
}

/** What a Conv's input patches need: the node (attributes, auto_pad resolved per input size) and its weight's dims. */
export interface ConvLayout {
  node: Node;
  /** The weight's dims [M, C/G, *kernel]. */
  weightDims: readonly number[];
  group: number;
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
