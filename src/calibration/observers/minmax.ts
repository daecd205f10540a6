/**
 * The min/max observer: the running minimum and maximum of every value seen (onnxruntime's
 * MinMaxCalibrater without moving average). Memory is two numbers per tensor, whatever the data size.
 */
import type { RangeChoice, RangeObserver } from './observer.js';

export class MinMaxObserver implements RangeObserver {
  private lo = Infinity;
  private hi = -Infinity;
  count = 0;

  update(values: ArrayLike<number>): void {
    let lo = this.lo;
    let hi = this.hi;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.lo = lo;
    this.hi = hi;
    this.count += values.length;
  }

  range(): { min: number; max: number } {
    if (this.count === 0) return { min: 0, max: 0 };
    return { min: this.lo, max: this.hi };
  }

  choice(): RangeChoice {
    const r = this.range();
    return { ...r, method: 'minmax', observed: { ...r } };
  }
}
