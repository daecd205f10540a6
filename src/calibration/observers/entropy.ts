/**
 * The entropy observer: the clipping range whose quantized distribution is closest, in KL divergence, to
 * the observed one (TensorRT's calibration, "8-bit Inference with TensorRT", Migacz 2017; onnxruntime's
 * HistogramCollector.get_entropy_threshold): for each window of the histogram around 0, the reference p is
 * the window with the values beyond it folded into its end bins, q is the window merged into `levels`
 * parts and spread back evenly over the non-empty bins of each part; both are smoothed and the window with
 * the least KL(p || q) wins. The result is clipped to the values seen.
 *
 * Where this differs from onnxruntime and TensorRT, and why (measured on ppocr-rec-v4, docs/quantize.md):
 * - Every window is resampled to the same number of sub-bins per level (8, the resolution the whole range
 *   has with 2048 bins and 256 levels) before p and q are compared. On the fixed bins of the histogram a
 *   window twice as wide merges twice as many bins into each level, so the flattening part of the KL grows
 *   with the window whatever the data; on activations made of spikes (flat image backgrounds, zero
 *   padding, discrete pixel values) it outgrew every clipping cost and the narrowest window won: the
 *   recognizer's early convolutions were cut to a fifth of their range and it read 0.70 of the characters
 *   (0.995 now; onnxruntime's own entropy calibration 0.97 on the same lines).
 * - A part's count is spread as a real number: onnxruntime's integer division gives sparse parts a q of 0
 *   (infinite divergence after smoothing), which again pushed the window in.
 * - Parts are cut at fractional positions (TensorRT's linspace): onnxruntime's last part takes every
 *   remaining bin, up to 255 of them flattened into one level.
 * - Exact zeros are left out of p and q: the zero point represents them exactly, and after a Relu their
 *   spike would dominate both distributions.
 * - 256 levels (uint8) spread over the part of the window that holds values, so a tensor after a Relu is
 *   searched over [0, t], not [-t, t] with half the levels unused.
 */
import { HistogramObserver, type Histogram } from './histogram.js';

/** onnxruntime quant_utils.smooth_distribution: moves eps of mass onto empty bins; null if all are empty. */
export function smoothDistribution(p: Float64Array, eps = 0.0001): Float64Array | null {
  let zeros = 0;
  for (const v of p) if (v === 0) zeros++;
  const nonzeros = p.length - zeros;
  if (nonzeros === 0) return null;
  const eps1 = (eps * zeros) / nonzeros;
  const out = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = p[i] === 0 ? eps : p[i]! - eps1;
  return out;
}

/** KL(p || q) of two non-negative vectors, each normalised to sum 1 (scipy.stats.entropy). */
export function klDivergence(p: Float64Array, q: Float64Array): number {
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i]!;
    sq += q[i]!;
  }
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i]! / sp;
    if (a > 0) kl += a * Math.log(a / (q[i]! / sq));
  }
  return kl;
}

/** Sub-bins per quantization level at which every window's KL divergence is measured. */
const RESOLUTION = 8;

/**
 * The entropy range of a histogram: the window whose `levels`-level quantization is closest in KL
 * divergence to the observed distribution (see the file's header).
 */
export function entropyRange(h: Histogram, levels = 256): { min: number; max: number } {
  if (h.count === 0) return { min: 0, max: 0 };
  const nBins = h.counts.length;
  const zero = h.binOf(0);
  // Exact zeros (half of a tensor after a Relu, the padding of an image) stay exact under any range: the
  // zero point represents them. They are left out, or their spike would dominate both distributions.
  const hist = h.counts.slice();
  hist[zero] = Math.max(0, hist[zero]! - h.zeros);
  // The windows are cut to the bins that hold values, exact zeros included (0 stays in the range).
  let first = 0;
  while (first < nBins - 1 && h.counts[first] === 0) first++;
  let last = nBins - 1;
  while (last > 0 && h.counts[last] === 0) last--;
  if (hist.every((c) => c === 0)) return { min: h.min, max: h.max };
  const prefix = new Float64Array(nBins + 1);
  for (let i = 0; i < nBins; i++) prefix[i + 1] = prefix[i]! + hist[i]!;
  // Counts below a fractional bin position, values spread evenly within a bin.
  const below = (x: number): number => {
    if (x <= 0) return 0;
    if (x >= nBins) return prefix[nBins]!;
    const i = Math.floor(x);
    return prefix[i]! + (x - i) * hist[i]!;
  };
  const m = levels * RESOLUTION;
  const own = new Float64Array(m);
  const p = new Float64Array(m);
  const q = new Float64Array(m);
  let best = Infinity;
  let bestRange = { min: h.min, max: h.max };
  // Half-widths grow one bin at a time, then by ~0.4 % steps; the whole range is always tried last.
  for (let i = 0; ; i += Math.max(1, Math.floor(i / 256))) {
    // The window [-t, t] around 0, cut to where there are values (an all-positive tensor, after a Relu,
    // gets [0, t]): the range the affine uint8 quantization spreads its levels over.
    const start = Math.max(zero - i, first);
    const end = Math.min(zero + i + 1, last + 1);
    const len = end - start;
    const whole = start === first && end === last + 1;
    // At least one histogram bin per level: a narrower window has no resolution left to judge.
    if (len < levels && !whole) continue;
    // The window resampled to `m` sub-bins: the same resolution relative to the quantization step for
    // every window (see the file's header). p: those counts with the values beyond the window folded
    // into its end sub-bins (they are clipped there).
    for (let j = 0; j < m; j++) own[j] = below(start + ((j + 1) * len) / m) - below(start + (j * len) / m);
    p.set(own);
    p[0]! += prefix[start]!;
    p[m - 1]! += prefix[nBins]! - prefix[end]!;
    // q: each level's count spread evenly over its non-empty sub-bins.
    for (let k = 0; k < levels; k++) {
      let sum = 0;
      let nonzero = 0;
      for (let j = k * RESOLUTION; j < (k + 1) * RESOLUTION; j++) {
        sum += own[j]!;
        if (p[j]! > 0) nonzero++;
      }
      for (let j = k * RESOLUTION; j < (k + 1) * RESOLUTION; j++) q[j] = p[j]! > 0 ? sum / nonzero : 0;
    }
    const ps = smoothDistribution(p);
    const qs = smoothDistribution(q);
    const kl = ps && qs ? klDivergence(ps, qs) : Infinity;
    if (kl < best) {
      best = kl;
      bestRange = { min: h.edge(start), max: h.edge(end) };
    }
    if (whole) break;
  }
  return { min: Math.max(bestRange.min, h.min), max: Math.min(bestRange.max, h.max) };
}

export class EntropyObserver extends HistogramObserver {
  readonly quantizedBins: number;
  readonly method = 'entropy';

  /** `quantizedBins`: the levels the quantized range has (256 for the uint8 activations we write). */
  constructor(bins = 2048, quantizedBins = 256) {
    super(bins);
    this.quantizedBins = quantizedBins;
  }

  range(): { min: number; max: number } {
    return entropyRange(this.hist, this.quantizedBins);
  }
}
