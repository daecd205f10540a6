/**
 * The mse observer: the clipping range with the least expected squared uint8 quantization error over the
 * histogram (QuantizationError: rounding noise inside the range, exact clipping error outside). The lower
 * and upper ends are searched apart, each on a geometric grid of fractions of the observed extreme (1 down
 * to 1/1000, 3 % apart), one after the other until neither moves: a tensor with a long upper tail and a
 * short lower one gets its own cut on each side. The idea of NNCF's and TensorRT-ModelOpt's "mse"
 * calibrators, with an error model that stays right when the range is a few bins wide.
 */
import { QuantizationError } from './error.js';
import { HistogramObserver } from './histogram.js';
import type { Histogram } from './histogram.js';

/** Fractions of the observed extreme the search tries: 1, 0.97, 0.97^2, ... down to 1e-3. */
const fractions: number[] = (() => {
  const out: number[] = [];
  for (let f = 1; f >= 1e-3; f *= 0.97) out.push(f);
  return out;
})();

/**
 * The range with the least QuantizationError over the histogram (the mean squared error for the default
 * power 2), and that error.
 */
export function mseRange(e: QuantizationError): { min: number; max: number; error: number } {
  const h: Histogram = e.hist;
  if (h.count === 0) return { min: 0, max: 0, error: 0 };
  const cost = (lo: number, hi: number) => e.error(lo, hi);
  let lo = h.min;
  let hi = h.max;
  let best = cost(lo, hi);
  for (let round = 0; round < 4; round++) {
    let moved = false;
    if (h.max > 0) {
      for (const f of fractions) {
        const err = cost(lo, h.max * f);
        if (err < best) {
          best = err;
          hi = h.max * f;
          moved = true;
        }
      }
    }
    if (h.min < 0) {
      for (const f of fractions) {
        const err = cost(h.min * f, hi);
        if (err < best) {
          best = err;
          lo = h.min * f;
          moved = true;
        }
      }
    }
    if (!moved) break;
  }
  return { min: lo, max: hi, error: best };
}

export class MseObserver extends HistogramObserver {
  readonly bits: number;
  readonly method = 'mse';

  constructor(bits = 8, bins = 2048) {
    super(bins);
    this.bits = bits;
  }

  /** Expected squared error per value of quantizing what was seen with the range [lo, hi]. */
  errorOf(lo: number, hi: number): number {
    return new QuantizationError(this.hist, 2 ** this.bits).error(lo, hi);
  }

  range(): { min: number; max: number } {
    const { min, max } = mseRange(new QuantizationError(this.hist, 2 ** this.bits));
    return { min, max };
  }
}
