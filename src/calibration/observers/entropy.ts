/**
 * The entropy observer: the clipping range whose quantized distribution is closest, in KL divergence, to
 * the observed one (TensorRT's calibration, "8-bit Inference with TensorRT", Migacz 2017, in the form of
 * onnxruntime's HistogramCollector.get_entropy_threshold): for each window of the histogram centred on
 * 0, the reference p is the window with the outside counts folded into its end bins, q is the window
 * merged into `quantizedBins` levels and spread back over the non-empty bins; both are smoothed and the
 * window with the least KL(p || q) wins. The result is clipped to the values seen.
 *
 * Differences from onnxruntime, both so that the search models the quantization we write: the quantized
 * distribution has 256 levels (uint8) spread over the part of the window that holds values (so a tensor
 * after a Relu is searched over [0, t], not [-t, t] with half the levels unused); and the histogram has
 * 2048 bins (onnxruntime's defaults, 128 bins and 128 levels, leave one window to try: min/max).
 */
import { HistogramObserver } from './histogram.js';

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

export class EntropyObserver extends HistogramObserver {
  readonly quantizedBins: number;

  /** `quantizedBins`: the levels the quantized range has (256 for the uint8 activations we write). */
  constructor(bins = 2048, quantizedBins = 256) {
    super(bins);
    this.quantizedBins = quantizedBins;
  }

  range(): { min: number; max: number } {
    const h = this.hist;
    if (h.count === 0) return { min: 0, max: 0 };
    const nBins = h.counts.length;
    const zero = nBins >> 1;
    // The bin holding exact zeros (half of a tensor after a Relu) would dominate both distributions and
    // drown the differences between windows; like NVIDIA's entropy calibrator (bins[0] = bins[1]) it is
    // given the count of its neighbours for the search.
    const hist = h.counts.slice();
    const neighbours = [hist[zero - 1], hist[zero + 1]].filter((c): c is number => c !== undefined && c > 0);
    if (neighbours.length > 0) hist[zero] = Math.min(hist[zero]!, neighbours.reduce((a, b) => a + b, 0) / neighbours.length);
    let first = 0;
    while (first < nBins - 1 && hist[first] === 0) first++;
    let last = nBins - 1;
    while (last > 0 && hist[last] === 0) last--;
    const levels = this.quantizedBins;
    let best = Infinity;
    let bestRange = { min: h.min, max: h.max };
    const prefix = new Float64Array(nBins + 1);
    for (let i = 0; i < nBins; i++) prefix[i + 1] = prefix[i]! + hist[i]!;
    for (let i = 0; i <= zero; i++) {
      // The symmetric window [-t, t] around 0, cut to where there are values (an all-positive tensor,
      // after a Relu, gets [0, t]): that is the range the affine uint8 quantization will spread its
      // levels over.
      const start = Math.max(zero - i, first);
      const end = Math.min(zero + i + 1, last + 1);
      const len = end - start;
      if (len < levels) continue;
      const p = new Float64Array(len);
      for (let j = 0; j < len; j++) p[j] = hist[start + j]!;
      p[0]! += prefix[start]!;
      p[len - 1]! += prefix[nBins]! - prefix[end]!;
      // q: the window's own counts merged into `levels` bins, spread evenly over the non-empty ones
      // (integer division as onnxruntime's int64 arrays do).
      const merged = Math.floor(len / levels);
      const q = new Float64Array(len);
      for (let k = 0; k < levels; k++) {
        const s = k * merged;
        const e = k === levels - 1 ? len : s + merged;
        let sum = 0;
        let nonzero = 0;
        for (let j = s; j < e; j++) {
          sum += hist[start + j]!;
          if (p[j] !== 0) nonzero++;
        }
        if (nonzero === 0) continue;
        const share = Math.floor(sum / nonzero);
        for (let j = s; j < e; j++) if (p[j] !== 0) q[j] = share;
      }
      const ps = smoothDistribution(p);
      const qs = smoothDistribution(q);
      const kl = ps && qs ? klDivergence(ps, qs) : Infinity;
      if (kl < best) {
        best = kl;
        bestRange = { min: h.edge(start), max: h.edge(end) };
      }
      if (start === first && end === last + 1) break;
    }
    return { min: Math.max(bestRange.min, h.min), max: Math.min(bestRange.max, h.max) };
  }
}
