/**
 * The Hessian of the layer-wise reconstruction loss ||W X - Q X||^2 (GPTQ, Frantar et al. 2022,
 * arXiv 2210.17323, section 3; SparseGPT, Frantar & Alistarh 2023): H = 2 X^T X / n for the inputs X
 * [n tokens, K] of a MatMul/Gemm. Accumulated in float32 on tfjs (one [tokens, K]^T [tokens, K] matmul
 * per batch), so the calibration set never has to be held: memory is K x K per distinct layer input.
 *
 * Three verbs (STYLE.md habit 2): `createHessian(K)`, `acc.add(x, layout)` for each batch, then
 * `acc.hessian()` (or `acc.gram()` for the raw sum X^T X). Layers that read the same activation (q, k and
 * v projections) share one accumulator: the driver keys them by the input value.
 */
import { ModelError } from '../../core/errors.js';
import type { RTensor } from '../../runtime/value.js';
import { GramSum, rowsOf } from '../../tensor/linalg.js';
import type { ActivationAccumulator, ActivationLayout } from './accumulator.js';

/** Streaming H = 2 X^T X / n. */
export class HessianAccumulator implements ActivationAccumulator {
  readonly K: number;
  private _samples = 0;
  private readonly sum: GramSum;

  constructor(K: number) {
    if (!Number.isInteger(K) || K < 1) throw new RangeError(`a Hessian needs a positive input length, got ${K}`);
    this.K = K;
    this.sum = new GramSum(K);
  }

  get samples(): number {
    return this._samples;
  }

  add(x: RTensor, layout: ActivationLayout): void {
    if (layout.K !== this.K) throw new RangeError(`Hessian of size ${this.K} fed activations with K = ${layout.K}`);
    const t = x.tf;
    if (t.size % this.K !== 0) throw new ModelError(`an activation of shape [${x.dims.join(',')}] does not hold rows of ${this.K} inputs`);
    this.sum.add(t, layout.transposed);
    this._samples += rowsOf(t, this.K);
  }

  /** The raw Gram matrix X^T X ([K, K] row-major, float32); zeros before any batch. */
  gram(): Float32Array {
    return this.sum.toFloat32();
  }

  /** H = 2 X^T X / n ([K, K] row-major, float32), n the tokens seen; zeros before any batch. */
  hessian(): Float32Array {
    const g = this.gram();
    if (this._samples === 0) return g;
    const f = 2 / this._samples;
    for (let i = 0; i < g.length; i++) g[i]! *= f;
    return g;
  }

  dispose(): void {
    this.sum.dispose();
  }
}

/** Creates an empty Hessian accumulator for a layer input of length K. */
export function createHessian(K: number): HessianAccumulator {
  return new HessianAccumulator(K);
}
