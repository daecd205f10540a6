/**
 * Column means of a layer's input, E[x_j] over all calibration tokens, gathered beside another statistic.
 * A pruned (or otherwise changed) weight W -> W' moves every output by (W' - W) x, whose expectation
 * (W' - W) E[x] is a constant that the layer's bias can absorb: bias correction (Nagel et al. 2019,
 * "Data-Free Quantization Through Weight Equalization and Bias Correction", section 4.2; NNCF's
 * bias correction; FLAP's bias compensation, An et al. 2024). Costs K numbers per layer input.
 *
 * `withColumnMeans(inner)` wraps any accumulator (the Hessian for SparseGPT, the column norms for Wanda)
 * so that the same forward sweep feeds both: the driver sees one accumulator per layer input.
 */
import type { RTensor } from '../../runtime/value.js';
import { addColumnSums, rowsOf } from '../../tensor/linalg.js';
import type { ActivationAccumulator, ActivationLayout } from './accumulator.js';
import { addPatchColumnSums } from './norms.js';

/** An accumulator that also keeps the sum of each input column (of each group, for a Conv's patches). */
export class WithColumnMeans<A extends ActivationAccumulator> implements ActivationAccumulator {
  readonly K: number;
  private _samples = 0;
  private sums: Float64Array[];

  constructor(readonly inner: A) {
    this.K = inner.K;
    this.sums = [new Float64Array(inner.K)];
  }

  get samples(): number {
    return this._samples;
  }

  add(x: RTensor, layout: ActivationLayout): void {
    if (layout.K !== this.K) throw new RangeError(`column means of size ${this.K} fed activations with K = ${layout.K}`);
    this.inner.add(x, layout);
    if (layout.conv) {
      this._samples += addPatchColumnSums(this, x, layout.conv, false);
      return;
    }
    addColumnSums(this.sums[0]!, x.tf, this.K, layout.transposed);
    this._samples += rowsOf(x.tf, this.K);
  }

  /** The per-group sums a Conv's patches are added to (sized on first use). */
  sumsFor(groups: number): Float64Array[] {
    if (this.sums.length !== groups) this.sums = Array.from({ length: groups }, () => new Float64Array(this.K));
    return this.sums;
  }

  /** E[x_j] over the tokens seen, for each input j of group `g` (zeros before any batch). */
  means(g = 0): Float64Array {
    const out = new Float64Array(this.K);
    const sums = this.sums[g]!;
    if (this._samples > 0) for (let j = 0; j < this.K; j++) out[j] = sums[j]! / this._samples;
    return out;
  }

  dispose(): void {
    this.inner.dispose();
  }
}

/** Wraps `inner` so that it also gathers the column means of the same activations. */
export function withColumnMeans<A extends ActivationAccumulator>(inner: A): WithColumnMeans<A> {
  return new WithColumnMeans(inner);
}
