/**
 * The percentile observer: the range that keeps `percentile` % of the values, cutting the same share
 * from each tail, read off the cumulative histogram (onnxruntime HistogramCollector.compute_percentile
 * for asymmetric ranges), and never wider than the values seen.
 */
import { HistogramObserver, type Histogram } from './histogram.js';

/** The range keeping `percentile` % of the histogram's values, the same share cut from each tail. */
export function percentileRange(h: Histogram, percentile: number): { min: number; max: number } {
  if (h.count === 0) return { min: 0, max: 0 };
  const cut = (100 - percentile) / 200;
  // numpy.searchsorted(cdf, q): the first bin whose cumulative share reaches q.
  const search = (q: number): number => {
    let acc = 0;
    for (let i = 0; i < h.bins; i++) {
      acc += h.counts[i]! / h.count;
      if (acc >= q) return i;
    }
    return h.bins - 1;
  };
  const lo = h.edge(search(cut));
  const hi = h.edge(search(1 - cut) + 1);
  return { min: Math.max(lo, h.min), max: Math.min(hi, h.max) };
}

export class PercentileObserver extends HistogramObserver {
  readonly percentile: number;
  readonly method: string;

  constructor(percentile = 99.99, bins = 2048) {
    if (!(percentile > 0 && percentile <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${percentile}`);
    super(bins);
    this.percentile = percentile;
    this.method = `percentile ${percentile}`;
  }

  range(): { min: number; max: number } {
    return percentileRange(this.hist, this.percentile);
  }
}
