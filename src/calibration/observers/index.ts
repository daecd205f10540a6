/**
 * Calibration observers: statistics of a tensor accumulated batch by batch, and the quantization range
 * each method chooses from them.
 */
import { AutoObserver } from './auto.js';
import { EntropyObserver } from './entropy.js';
import { MinMaxObserver } from './minmax.js';
import { MseObserver } from './mse.js';
import type { RangeObserver } from './observer.js';
import { PercentileObserver } from './percentile.js';

export type { RangeObserver, RangeChoice } from './observer.js';
export { Histogram } from './histogram.js';
export { QuantizationError } from './error.js';
export { MinMaxObserver } from './minmax.js';
export { PercentileObserver, percentileRange } from './percentile.js';
export { EntropyObserver, entropyRange, klDivergence, smoothDistribution } from './entropy.js';
export { MseObserver, mseRange } from './mse.js';
export { AutoObserver, AUTO_POWER, autoPercentiles, type RangeCandidate } from './auto.js';

export type ObserverMethod = 'auto' | 'minmax' | 'percentile' | 'entropy' | 'mse';

/** A fresh observer for a calibration method. */
export function createObserver(method: ObserverMethod, options: { percentile?: number; bins?: number } = {}): RangeObserver {
  switch (method) {
    case 'auto':
      return new AutoObserver(options.bins ?? 2048);
    case 'minmax':
      return new MinMaxObserver();
    case 'percentile':
      return new PercentileObserver(options.percentile ?? 99.99, options.bins ?? 2048);
    case 'entropy':
      return new EntropyObserver(options.bins ?? 2048);
    case 'mse':
      return new MseObserver(8, options.bins ?? 2048);
  }
}
