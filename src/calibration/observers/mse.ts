/**
 * The mse observer: among clipping ranges shrunk from the observed [min, max] in 1 % steps, the one whose
 * uint8 affine quantization has the least expected squared error over the histogram (each bin counted at
 * its centre). The search of NNCF's and TensorRT-ModelOpt's "mse" calibrators, on the histogram that the
 * other histogram observers use.
 */
import { quantizeValue, scaleZeroPoint } from '../../tensor/quant.js';
import { HistogramObserver } from './histogram.js';

export class MseObserver extends HistogramObserver {
  readonly bits: number;
  readonly steps: number;

  constructor(bits = 8, bins = 2048, steps = 100) {
    super(bins);
    this.bits = bits;
    this.steps = steps;
  }

  /** Expected squared error of quantizing the histogram with range [lo, hi]. */
  errorOf(lo: number, hi: number): number {
    const h = this.hist;
    const qmax = 2 ** this.bits - 1;
    const { scale, zeroPoint } = scaleZeroPoint(lo, hi, 0, qmax, false);
    let err = 0;
    for (let i = 0; i < h.bins; i++) {
      const c = h.counts[i]!;
      if (c === 0) continue;
      const x = (h.edge(i) + h.edge(i + 1)) / 2;
      const d = (quantizeValue(x, scale, zeroPoint, 0, qmax) - zeroPoint) * scale - x;
      err += c * d * d;
    }
    return err;
  }

  range(): { min: number; max: number } {
    const h = this.hist;
    if (h.count === 0) return { min: 0, max: 0 };
    let best = { min: h.min, max: h.max };
    let bestErr = Infinity;
    for (let s = this.steps; s >= 1; s--) {
      const f = s / this.steps;
      const lo = h.min * f;
      const hi = h.max * f;
      const e = this.errorOf(lo, hi);
      if (e < bestErr) {
        bestErr = e;
        best = { min: lo, max: hi };
      }
    }
    return best;
  }
}
