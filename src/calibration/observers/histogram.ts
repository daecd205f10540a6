/**
 * A histogram of a tensor's values over a range symmetric around 0, grown as batches arrive, as
 * onnxruntime's HistogramCollector.collect_value / merge_histogram does (calibrate.py): the first batch
 * sets the range [-t, t] with t = max |x|; a later batch beyond it widens the range by whole bins of the
 * same width on both sides, so earlier counts are kept exactly. The percentile, entropy and mse observers
 * choose their ranges from it.
 */
import { QuantizationError } from './error.js';
import type { RangeChoice, RangeObserver } from './observer.js';

export class Histogram {
  /** Counts per bin; bin i covers [edge(i), edge(i + 1)). */
  counts: Float64Array;
  /** Half-width of the range: the bins cover [-threshold, threshold]. */
  threshold = 0;
  min = Infinity;
  max = -Infinity;
  count = 0;
  /** How many values were exactly 0 (they sit in bin `binOf(0)`; the uint8 zero point represents them exactly). */
  zeros = 0;
  private readonly initialBins: number;

  constructor(bins = 2048) {
    if (!Number.isInteger(bins) || bins < 2 || bins % 2 !== 0) throw new RangeError(`histogram bins must be an even integer >= 2, got ${bins}`);
    this.initialBins = bins;
    this.counts = new Float64Array(0);
  }

  get bins(): number {
    return this.counts.length;
  }

  /** The lower edge of bin i (i = bins gives the upper end of the range). */
  edge(i: number): number {
    return -this.threshold + (2 * this.threshold * i) / this.counts.length;
  }

  update(values: ArrayLike<number>): void {
    if (values.length === 0) return;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError('observed a non-finite value (NaN or infinity) during calibration');
    this.min = Math.min(this.min, lo);
    this.max = Math.max(this.max, hi);
    const t = Math.max(Math.abs(lo), Math.abs(hi));
    if (this.counts.length === 0) {
      this.counts = new Float64Array(this.initialBins);
      this.threshold = t;
    } else if (t > this.threshold) {
      if (this.threshold === 0) {
        // Everything so far was 0: it stays in the middle bin of the new range.
        const zeros = this.counts.reduce((a, b) => a + b, 0);
        this.counts = new Float64Array(this.counts.length);
        this.threshold = t;
        this.counts[this.binOf(0)]! += zeros;
      } else {
        const stride = (2 * this.threshold) / this.counts.length;
        const half = Math.floor((t - this.threshold) / stride) + 1;
        const grown = new Float64Array(this.counts.length + 2 * half);
        grown.set(this.counts, half);
        this.counts = grown;
        this.threshold = this.threshold + half * stride;
      }
    }
    let zeros = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v === 0) zeros++;
      this.counts[this.binOf(v)]! += 1;
    }
    this.zeros += zeros;
    this.count += values.length;
  }

  /** The bin holding `v` (values beyond the range fall in the end bins). */
  binOf(v: number): number {
    const n = this.counts.length;
    if (this.threshold === 0) return n >> 1;
    const b = Math.floor(((v + this.threshold) / (2 * this.threshold)) * n);
    return b < 0 ? 0 : b >= n ? n - 1 : b;
  }
}

/** An observer that chooses its range from a Histogram of every value seen (percentile, entropy, mse, auto). */
export abstract class HistogramObserver implements RangeObserver {
  readonly hist: Histogram;
  /** The method's name in the report. */
  abstract readonly method: string;

  constructor(bins: number) {
    this.hist = new Histogram(bins);
  }

  get count(): number {
    return this.hist.count;
  }

  update(values: ArrayLike<number>): void {
    this.hist.update(values);
  }

  abstract range(): { min: number; max: number };

  /** The range, with its relative mean squared error on the values seen. */
  choice(): RangeChoice {
    const r = this.range();
    const h = this.hist;
    if (h.count === 0) return { ...r, method: this.method, observed: { min: 0, max: 0 } };
    const e = new QuantizationError(h);
    return { ...r, method: this.method, observed: { min: h.min, max: h.max }, error: e.norm > 0 ? e.error(r.min, r.max) / e.norm : 0 };
  }
}
