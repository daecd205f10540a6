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

/** An accumulator that also keeps the sum of each input column. */
export class WithColumnMeans<A extends ActivationAccumulator> implements ActivationAccumulator {
  readonly K: number;
  private _samples = 0;
  private readonly sums: Float64Array;

  constructor(readonly inner: A) {
    this.K = inner.K;
    this.sums = new Float64Array(inner.K);
  }

  get samples(): number {
    return this._samples;
  }

  add(x: RTensor, layout: ActivationLayout): void {
    if (layout.K !== this.K) throw new RangeError(`column means of size ${this.K} fed activations with K = ${layout.K}`);
    if (layout.conv) throw new RangeError('column means of Conv patches are not implemented');
    this.inner.add(x, layout);
    addColumnSums(this.sums, x.tf, this.K, layout.transposed);
    this._samples += rowsOf(x.tf, this.K);
  }

  /** E[x_j] over the tokens seen, for each input j (zeros before any batch). */
  means(): Float64Array {
    const out = new Float64Array(this.K);
    if (this._samples > 0) for (let j = 0; j < this.K; j++) out[j] = this.sums[j]! / this._samples;
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
