/**
 * The quantization error of a range, read off a Histogram without a second pass over the data: the mean
 * of |x - q(x)|^p over the values seen, where q is the uint8 affine fake-quantization
 * (x -> scale * (clamp(round(x / scale) + zp, 0, 255) - zp)) whose scale and zero point [lo, hi] sets.
 * p = 2 is the mean squared error; a larger p weighs the few large errors of clipping more than the many
 * small ones of rounding (p -> infinity keeps every value: min/max).
 *
 * Each bin's values are taken as spread evenly over the bin (the end bins cut to the smallest and largest
 * value seen). Inside the grid the rounding error is uniform on [-scale/2, scale/2], so its mean p-th power
 * is (scale/2)^p / (p + 1) (scale^2 / 12 for p = 2); beyond the grid the clipping error |x - bound|^p is
 * integrated exactly over the part of each bin that lies beyond; values that were exactly 0 cost nothing
 * (the zero point represents 0 exactly, and after a Relu they are half of the tensor). This is ACIQ's error
 * model (Banner et al., "Post training 4-bit quantization of convolutional networks for rapid-deployment",
 * 2019) on the measured distribution instead of a fitted one. Evaluating each bin at its centre instead, as
 * a plain histogram MSE does, aliases as soon as a bin is as wide as a quantization step: the centres can
 * all fall on grid points and the error reads 0.
 */
import { scaleZeroPoint } from '../../tensor/quant.js';
import type { Histogram } from './histogram.js';

export class QuantizationError {
  readonly hist: Histogram;
  /** Quantization levels (256 for uint8). */
  readonly levels: number;
  /** The exponent p of the error |x - q(x)|^p. */
  readonly power: number;
  /** Mean of |x|^p over the values seen: the error of quantizing everything to 0, to put errors in proportion. */
  readonly norm: number;
  /** Per bin: the interval its values lie in, and their count (exact zeros taken out). */
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;
  private readonly c: Float64Array;
  /** Prefix sums of the counts, for the bins wholly inside a range. */
  private readonly p0: Float64Array;

  constructor(hist: Histogram, levels = 256, power = 2) {
    this.hist = hist;
    this.levels = levels;
    this.power = power;
    const n = hist.bins;
    this.lo = new Float64Array(n);
    this.hi = new Float64Array(n);
    this.c = new Float64Array(n);
    this.p0 = new Float64Array(n + 1);
    const zeroBin = n > 0 ? hist.binOf(0) : -1;
    let norm = 0;
    for (let i = 0; i < n; i++) {
      const a = Math.max(hist.edge(i), hist.min);
      const b = Math.min(hist.edge(i + 1), hist.max);
      let c = hist.counts[i]!;
      if (i === zeroBin) c -= hist.zeros;
      this.lo[i] = Math.min(a, b);
      this.hi[i] = Math.max(a, b);
      this.c[i] = c;
      this.p0[i + 1] = this.p0[i]! + c;
      if (c > 0) norm += this.beyond(i, 0, 1) + this.beyond(i, 0, -1);
    }
    this.norm = hist.count > 0 ? norm / hist.count : 0;
  }

  /** The grid [lo, hi] gives: its step and the interval it represents without clipping. */
  grid(lo: number, hi: number): { scale: number; zeroPoint: number; qmin: number; qmax: number } {
    const { scale, zeroPoint } = scaleZeroPoint(lo, hi, 0, this.levels - 1, false);
    return { scale, zeroPoint, qmin: -zeroPoint * scale, qmax: (this.levels - 1 - zeroPoint) * scale };
  }

  /** Mean |x - q(x)|^p per value seen of quantizing with the range [lo, hi]. */
  error(lo: number, hi: number): number {
    const p = this.parts(lo, hi);
    return p.noise + p.clip;
  }

  /** The error of [lo, hi] in its two parts, per value seen: rounding noise inside, clipping outside. */
  parts(lo: number, hi: number): { noise: number; clip: number } {
    const h = this.hist;
    const n = h.bins;
    if (h.count === 0 || n === 0) return { noise: 0, clip: 0 };
    const { scale, qmin, qmax } = this.grid(lo, hi);
    const noise = (scale / 2) ** this.power / (this.power + 1);
    // Bins below kl lie wholly below qmin, bins above kh wholly above qmax; kl and kh may be cut.
    const kl = Math.min(n - 1, Math.max(0, h.binOf(qmin)));
    const kh = Math.min(n - 1, Math.max(0, h.binOf(qmax)));
    let clip = 0;
    for (let i = 0; i < kl; i++) if (this.c[i]! > 0) clip += this.beyond(i, qmin, -1);
    for (let i = kh + 1; i < n; i++) if (this.c[i]! > 0) clip += this.beyond(i, qmax, 1);
    let inside = kh > kl + 1 ? this.p0[kh]! - this.p0[kl + 1]! : 0;
    for (const k of kh !== kl ? [kl, kh] : [kl]) {
      const c = this.c[k]!;
      if (c === 0) continue;
      const a = this.lo[k]!;
      const b = this.hi[k]!;
      clip += this.beyond(k, qmin, -1) + this.beyond(k, qmax, 1);
      // The share of the bin inside [qmin, qmax].
      inside += b > a ? (c * Math.max(0, Math.min(b, qmax) - Math.max(a, qmin))) / (b - a) : a >= qmin && a <= qmax ? c : 0;
    }
    return { noise: (noise * inside) / h.count, clip: clip / h.count };
  }

  /**
   * Sum over bin i's values beyond `bound` (above it for side 1, below for side -1) of |x - bound|^p,
   * the values spread evenly over the bin.
   */
  private beyond(i: number, bound: number, side: 1 | -1): number {
    const c = this.c[i]!;
    const a = this.lo[i]!;
    const b = this.hi[i]!;
    const p = this.power;
    if (b - a <= 0) return (side > 0 ? a > bound : a < bound) ? c * Math.abs(a - bound) ** p : 0;
    // The part of [a, b] beyond the bound, as distances from it: [d0, d1].
    const d0 = side > 0 ? Math.max(0, a - bound) : Math.max(0, bound - b);
    const d1 = side > 0 ? b - bound : bound - a;
    if (d1 <= d0) return 0;
    return ((c / (b - a)) * (d1 ** (p + 1) - d0 ** (p + 1))) / (p + 1);
  }
}
