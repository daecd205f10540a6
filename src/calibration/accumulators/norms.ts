/**
 * Column norms of a layer's input: ||X_j||_2 over all calibration tokens for each of the K inputs, the
 * activation statistic of Wanda (Sun et al. 2023, arXiv 2306.11695: score |W_ij| * ||X_j||_2). Costs K
 * numbers per layer input, where the Hessian costs K^2. Accumulated in float64 on the host.
 */
import type { RTensor } from '../../runtime/value.js';
import { addColumnSums, rowsOf } from '../../tensor/linalg.js';
import type { ActivationAccumulator, ActivationLayout } from './accumulator.js';

/** Streaming sum of squares per input column. */
export class ColumnNormAccumulator implements ActivationAccumulator {
  readonly K: number;
  private _samples = 0;
  private readonly squares: Float64Array;

  constructor(K: number) {
    if (!Number.isInteger(K) || K < 1) throw new RangeError(`column norms need a positive input length, got ${K}`);
    this.K = K;
    this.squares = new Float64Array(K);
  }

  get samples(): number {
    return this._samples;
  }

  add(x: RTensor, layout: ActivationLayout): void {
    if (layout.K !== this.K) throw new RangeError(`column norms of size ${this.K} fed activations with K = ${layout.K}`);
    if (layout.conv) throw new RangeError('column norms of Conv patches are not implemented');
    addColumnSums(this.squares, x.tf, this.K, layout.transposed, true);
    this._samples += rowsOf(x.tf, this.K);
  }

  /** sum over tokens of x_j^2, for each input j. */
  sumOfSquares(): Float64Array {
    return this.squares.slice();
  }

  /** ||X_j||_2 for each input j (Wanda's activation norm). */
  norms(): Float32Array {
    return Float32Array.from(this.squares, (s) => Math.sqrt(s));
  }

  dispose(): void {}
}

/** Creates an empty column-norm accumulator for a layer input of length K. */
export function createColumnNorms(K: number): ColumnNormAccumulator {
  return new ColumnNormAccumulator(K);
}
