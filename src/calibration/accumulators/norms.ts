/**
 * Column norms of a layer's input: ||X_j||_2 over all calibration tokens for each of the K inputs, the
 * activation statistic of Wanda (Sun et al. 2023, arXiv 2306.11695: score |W_ij| * ||X_j||_2). Costs K
 * numbers per layer input, where the Hessian costs K^2. Accumulated in float64 on the host.
 */
import type { RTensor } from '../../runtime/value.js';
import { addColumnSums, rowsOf } from '../../tensor/linalg.js';
import type { ActivationAccumulator, ActivationLayout, ConvLayout } from './accumulator.js';
import { convPatches } from './hessian.js';

/**
 * Streaming sum of squares per input column. A Conv's input counts its patch rows (tensor/im2col.ts),
 * one set of K columns per group.
 */
export class ColumnNormAccumulator implements ActivationAccumulator {
  readonly K: number;
  private _samples = 0;
  private squares: Float64Array[];

  constructor(K: number) {
    if (!Number.isInteger(K) || K < 1) throw new RangeError(`column norms need a positive input length, got ${K}`);
    this.K = K;
    this.squares = [new Float64Array(K)];
  }

  get samples(): number {
    return this._samples;
  }

  /** The number of groups (1 unless a grouped Conv fed it). */
  get groups(): number {
    return this.squares.length;
  }

  add(x: RTensor, layout: ActivationLayout): void {
    if (layout.K !== this.K) throw new RangeError(`column norms of size ${this.K} fed activations with K = ${layout.K}`);
    if (layout.conv) {
      this._samples += addPatchColumnSums(this, x, layout.conv, true);
      return;
    }
    addColumnSums(this.squares[0]!, x.tf, this.K, layout.transposed, true);
    this._samples += rowsOf(x.tf, this.K);
  }

  /** The per-group sums a Conv's patches are added to (sized on first use). */
  sumsFor(groups: number): Float64Array[] {
    if (this.squares.length !== groups) this.squares = Array.from({ length: groups }, () => new Float64Array(this.K));
    return this.squares;
  }

  /** sum over tokens of x_j^2, for each input j (of group `g`). */
  sumOfSquares(g = 0): Float64Array {
    return this.squares[g]!.slice();
  }

  /** ||X_j||_2 for each input j (Wanda's activation norm), of group `g`. */
  norms(g = 0): Float32Array {
    return Float32Array.from(this.squares[g]!, (s) => Math.sqrt(s));
  }

  dispose(): void {}
}

/**
 * Adds each column's sum (or sum of squares) of a Conv input's patch rows to the accumulator's per-group
 * sums; returns the rows added (samples x output pixels).
 */
export function addPatchColumnSums(acc: { K: number; sumsFor(groups: number): Float64Array[] }, x: RTensor, conv: ConvLayout, squares: boolean): number {
  const K = acc.K;
  const { geometry, chunks } = convPatches(x, conv, K);
  const sums = acc.sumsFor(geometry.group);
  for (const { group, rows, count } of chunks) {
    const out = sums[group]!;
    for (let r = 0; r < count; r++) {
      const o = r * K;
      if (squares) for (let j = 0; j < K; j++) out[j]! += rows[o + j]! * rows[o + j]!;
      else for (let j = 0; j < K; j++) out[j]! += rows[o + j]!;
    }
  }
  return x.dims[0]! * geometry.out[0] * geometry.out[1];
}

/** Creates an empty column-norm accumulator for a layer input of length K. */
export function createColumnNorms(K: number): ColumnNormAccumulator {
  return new ColumnNormAccumulator(K);
}
