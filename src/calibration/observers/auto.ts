/**
 * The auto observer (`--calibration auto`, the default of static quantization): one histogram per tensor,
 * and at the end, among candidate ranges read off it (min/max, three percentiles, the mse-optimal clip,
 * the entropy window), the one whose uint8 quantization has the least error on that tensor's calibration
 * values (QuantizationError: the mean squared difference between the values and their fake-quantized
 * versions). Each tensor thus gets the cut its own distribution asks for: none for a bounded one, a deep
 * one for a long-tailed one; no extra forward pass is needed.
 *
 * The choice is explained: the method, its range and error relative to the tensor's mean square, and the
 * best range of another method (the runner-up), which the report lists per tensor.
 */
import { entropyRange } from './entropy.js';
import { QuantizationError } from './error.js';
import { HistogramObserver } from './histogram.js';
import { mseRange } from './mse.js';
import type { RangeChoice } from './observer.js';
import { percentileRange } from './percentile.js';

/** The default exponent of auto's error. */
export const AUTO_POWER = 3;

/** The percentiles auto tries (each cuts (100 - p) / 2 % from each tail). */
export const autoPercentiles = [99.9, 99.99, 99.999] as const;

/** One candidate range with its error (relative mean |x - q(x)|^p). */
export interface RangeCandidate {
  method: string;
  min: number;
  max: number;
  error: number;
}

export class AutoObserver extends HistogramObserver {
  readonly method = 'auto';
  /** The exponent p of the error |x - q(x)|^p the candidates are compared by. */
  readonly power: number;
  private cached?: RangeChoice;

  constructor(bins = 2048, power = AUTO_POWER) {
    super(bins);
    this.power = power;
  }

  override update(values: ArrayLike<number>): void {
    this.cached = undefined;
    super.update(values);
  }

  /**
   * Every candidate with its error, widest first: min/max, the percentiles from 99.999 down, entropy, the
   * mse-optimal range and the range optimal for auto's own error.
   */
  candidates(): RangeCandidate[] {
    const h = this.hist;
    const e = new QuantizationError(h, 256, this.power);
    const out: RangeCandidate[] = [];
    const add = (method: string, r: { min: number; max: number }) => out.push({ method, min: r.min, max: r.max, error: e.norm > 0 ? e.error(r.min, r.max) / e.norm : 0 });
    add('minmax', { min: h.min, max: h.max });
    for (const p of [...autoPercentiles].reverse()) add(`percentile ${p}`, percentileRange(h, p));
    add('entropy', entropyRange(h));
    add('mse', mseRange(new QuantizationError(h)));
    add(`lp${this.power}`, mseRange(e));
    return out;
  }

  override choice(): RangeChoice {
    if (this.cached) return this.cached;
    const h = this.hist;
    if (h.count === 0) return { min: 0, max: 0, method: 'minmax', observed: { min: 0, max: 0 } };
    const all = this.candidates();
    // The least error wins; on a tie the earlier (wider) candidate, so that nothing is cut for nothing.
    let best = all[0]!;
    for (const c of all) if (c.error < best.error) best = c;
    // The runner-up: the best other range (a candidate that found the same range is no alternative).
    let runnerUp: RangeCandidate | undefined;
    for (const c of all) if ((c.min !== best.min || c.max !== best.max) && (!runnerUp || c.error < runnerUp.error)) runnerUp = c;
    const choice: RangeChoice = { min: best.min, max: best.max, method: best.method, observed: { min: h.min, max: h.max }, error: best.error };
    if (runnerUp) choice.runnerUp = runnerUp;
    this.cached = choice;
    return choice;
  }

  range(): { min: number; max: number } {
    const c = this.choice();
    return { min: c.min, max: c.max };
  }
}
