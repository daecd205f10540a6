/**
 * The maths of low-rank factorization, free of graph plumbing (STYLE.md habit 2: create, accumulate,
 * solve). A layer computes Y = X W with W [K, N] (K inputs, N outputs). Its best rank-r replacement
 * A [K, r] · B [r, N]:
 *
 * - plain: minimizes ||W - A B||_F, the truncated SVD of W (Eckart-Young); the squared error is the tail
 *   energy Σ_{i>=r} s_i².
 * - activation-aware (SVD-LLM, Wang et al. 2024, arXiv 2403.07378, "truncation-aware data whitening"):
 *   minimizes ||X W - X A B||_F over the calibration inputs X. With X X-Gram H = XᵀX = L Lᵀ (Cholesky),
 *   ||X M||_F² = tr(Mᵀ H M) = ||Lᵀ M||_F², so the problem is the truncated SVD of Lᵀ W = U S Vᵀ; then
 *   A = L⁻ᵀ U_r, B = S_r V_rᵀ. The output error is exactly the tail energy of Lᵀ W, so truncating the
 *   smallest whitened singular values is optimal for the data (plain SVD of W, or ASVD's diagonal scaling,
 *   are not).
 *
 * The factors are balanced (√S on each side), which keeps both in the same numeric range.
 */
import { NumericsError } from '../../core/errors.js';
import { choleskyWithInverse, matmul as matmul32, NotPositiveDefiniteError } from '../../tensor/linalg.js';
import { svd as computeSvd, tailEnergy, type Svd } from '../../tensor/svd.js';
import type { RankRule } from './options.js';

/** How a weight is laid out as a matrix: a MatMul/Gemm matrix, or one of the two Conv factorizations. */
export type FactorKind = 'matrix' | 'channel' | 'spatial';

/** One candidate factorization of a layer: the (possibly whitened) matrix's spectrum and how to undo it. */
export interface Spectrum {
  kind: FactorKind;
  /** K: rows of the matrix factorized (the inputs of the first factor). */
  rows: number;
  /** N: columns (the outputs of the second factor). */
  cols: number;
  /** Parameters of the layer's weight as it is. */
  full: number;
  svd: Svd;
  /** tail[r] = squared error at rank r; tail[0] the total. */
  tail: Float64Array;
  /** L⁻¹ (K x K, row-major) when the spectrum is of the whitened Lᵀ W. */
  whitenInverse?: Float32Array;
}

/** Parameters of rank-r factors. */
export function paramsAt(s: Pick<Spectrum, 'rows' | 'cols'>, r: number): number {
  return r * (s.rows + s.cols);
}

/** The highest rank whose factors are smaller than the weight (0 when none is). */
export function maxSavingRank(s: Pick<Spectrum, 'rows' | 'cols' | 'full' | 'svd'>): number {
  return Math.max(0, Math.min(s.svd.k, Math.floor((s.full - 1) / (s.rows + s.cols))));
}

/** Relative squared error at rank r: ||E||² / ||W||² (plain) or ||X E||² / ||X W||² (whitened). */
export function relativeError(s: Pick<Spectrum, 'tail'>, r: number): number {
  const total = s.tail[0]!;
  if (total === 0) return 0;
  return s.tail[Math.min(r, s.tail.length - 1)]! / total;
}

/** The rank --rank or --ratio asks for a K x N layer of `full` parameters (capped at min(K, N)). */
export function rankByShape(rule: Extract<RankRule, { kind: 'rank' | 'ratio' }>, K: number, N: number, full: number): number {
  const k = Math.min(K, N);
  return rule.kind === 'rank' ? Math.min(rule.rank, k) : Math.min(k, Math.floor((rule.ratio * full) / (K + N)));
}

/** The rank a per-layer rule asks for (the whole-model targets: see `allocateRanks`). */
export function rankFor(s: Spectrum, rule: Exclude<RankRule, { kind: 'budget' }>): number {
  const k = s.svd.k;
  switch (rule.kind) {
    case 'rank':
    case 'ratio':
      return Math.min(k, rankByShape(rule, s.rows, s.cols, s.full));
    case 'energy': {
      // The smallest r keeping at least `energy` of Σ s_i² (tail[r] <= (1 - energy) · total).
      const allowed = (1 - rule.energy) * s.tail[0]!;
      for (let r = 0; r <= k; r++) if (s.tail[r]! <= allowed * (1 + 1e-12)) return r;
      return k;
    }
  }
}

/**
 * Adds λ I to a Gram matrix and factors it: H + λ I = L Lᵀ, λ = damp · mean(diag H). A failing Cholesky
 * (an input that is always zero, fewer samples than K) is retried with ten times the damping, three times.
 * Returns undefined when H is zero (nothing to whiten with).
 */
export function whitening(gram: Float32Array, K: number, damp: number): { l: Float32Array; inv: Float32Array } | undefined {
  let mean = 0;
  for (let i = 0; i < K; i++) mean += gram[i * K + i]!;
  mean /= K;
  if (!(mean > 0)) return undefined;
  let d = damp;
  for (let attempt = 0; attempt < 4; attempt++, d *= 10) {
    const h = Float32Array.from(gram);
    for (let i = 0; i < K; i++) h[i * K + i] = h[i * K + i]! + d * mean;
    try {
      return choleskyWithInverse(h, K);
    } catch (e) {
      if (!(e instanceof NotPositiveDefiniteError)) throw e;
    }
  }
  throw new NumericsError(`the activation statistics (${K} x ${K}) stay indefinite even with damping ${d / 10}`, 'run without --data for plain SVD, or give more calibration samples');
}

/** Options of `spectrumOf`. */
export interface SpectrumOptions {
  /** Only the leading `rank` triplets are needed (randomized SVD for large matrices). */
  rank?: number;
  seed?: number;
}

/**
 * The spectrum of a weight matrix W [K, N] (row-major), whitened by L when given (the SVD of Lᵀ W).
 */
export function spectrumOf(kind: FactorKind, w: Float32Array, K: number, N: number, full: number, white?: { l: Float32Array; inv: Float32Array }, options: SpectrumOptions = {}): Spectrum {
  const m = white ? matmul32(white.l, K, K, w, K, N, true, false) : w;
  const d = computeSvd(m, K, N, { rank: options.rank, seed: options.seed });
  // With a truncated (randomized) SVD the tail is known only up to the computed rank; the total energy is
  // ||M||_F², so tail[k] is filled from it.
  let total = 0;
  for (let i = 0; i < m.length; i++) total += m[i]! * m[i]!;
  const tail = tailEnergy(d.s);
  const missing = Math.max(0, total - tail[0]!);
  for (let i = 0; i < tail.length; i++) tail[i] = tail[i]! + missing;
  const s: Spectrum = { kind, rows: K, cols: N, full, svd: d, tail };
  if (white) s.whitenInverse = white.inv;
  return s;
}

/** Rank-r factors A [K, r] and B [r, N] (row-major float32) with A B ≈ W. */
export function factorsAt(s: Spectrum, r: number): { a: Float32Array; b: Float32Array } {
  const { rows: K, cols: N, svd: d } = s;
  if (r < 1 || r > d.k) throw new RangeError(`rank ${r} outside 1..${d.k}`);
  const a64 = new Float32Array(K * r);
  const b = new Float32Array(r * N);
  for (let j = 0; j < r; j++) {
    const root = Math.sqrt(d.s[j]!);
    for (let i = 0; i < K; i++) a64[i * r + j] = d.u[i * d.k + j]! * root;
    for (let i = 0; i < N; i++) b[j * N + i] = d.v[i * d.k + j]! * root;
  }
  // Undo the whitening: Lᵀ W ≈ U S Vᵀ  =>  W ≈ (L⁻ᵀ U √S)(√S Vᵀ).
  const a = s.whitenInverse ? matmul32(s.whitenInverse, K, K, a64, K, r, true, false) : a64;
  return { a, b };
}

/**
 * A layer as the whole-model allocation sees it: its size as it is and, for each rank r = 1, 2, ... that
 * saves anything, the size of its factors and the cost of that rank (its sensitivity: an error that is 0
 * for the layer left whole). Sizes are in the target's unit (parameters, or bytes).
 */
export interface AllocLayer {
  full: number;
  /** options[r - 1]: rank r. Sizes ascending, each below `full`. */
  options: { size: number; cost: number }[];
}

/** The lower convex hull of a layer's (size, cost) points, rank 1 first, the whole layer last (-1). */
function hullOf(layer: AllocLayer): number[] {
  const pts = [...layer.options.map((o, i) => ({ i, size: o.size, cost: o.cost })), { i: -1, size: layer.full, cost: 0 }];
  const hull: typeof pts = [];
  for (const p of pts) {
    while (hull.length >= 2) {
      const a = hull[hull.length - 2]!;
      const b = hull[hull.length - 1]!;
      // b is above (or on) the segment a-p: it is never the better use of its size.
      if ((b.cost - a.cost) * (p.size - a.size) >= (p.cost - a.cost) * (b.size - a.size)) hull.pop();
      else break;
    }
    hull.push(p);
  }
  return hull.map((p) => p.i);
}

/**
 * Chooses each layer's rank (or null: left whole) so that the layers' total size is at most `capacity`
 * and the sum of their costs is least. Two solvers, the better result kept:
 *
 * - marginal analysis (the Lagrangian solution, as in rate-distortion bit allocation): every layer starts
 *   at rank 1 and the layer that buys the largest cost decrease per unit of size grows, along the lower
 *   convex hull of its (size, cost) points, while the growth fits;
 * - for small problems, dynamic programming over the capacity cut into buckets (sizes rounded up, so its
 *   answer always fits): exact up to that rounding, also where the cost curves are not convex.
 *
 * What capacity is left then goes, one step at a time, to the single change that lowers the cost most.
 * This is AIMET's greedy per-layer selection (its cost: the model's loss with the layer compressed alone)
 * solved as the knapsack it is, rather than by a search for a common score threshold.
 * Throws NumericsError when rank 1 everywhere does not fit.
 */
export function allocateRanks(layers: AllocLayer[], capacity: number): (number | null)[] {
  const least = layers.reduce((n, l) => n + (l.options.length === 0 ? l.full : l.options[0]!.size), 0);
  if (least > capacity * (1 + 1e-12)) {
    throw new NumericsError(`the target cannot be reached: rank 1 in every factorizable layer still takes ${Math.ceil(least)}, and the target leaves ${Math.floor(capacity)} for them`, 'raise --ratio or --budget, factorize the head too (--no-keep-head), or drop --exclude');
  }
  const candidates = [fill(layers, capacity, marginal(layers, capacity))];
  const dp = bucketed(layers, capacity);
  if (dp) candidates.push(fill(layers, capacity, dp));
  const cost = (at: number[]) => at.reduce((n, i, l) => n + (i < 0 ? 0 : layers[l]!.options[i]!.cost), 0);
  const best = candidates.reduce((a, b) => (cost(b) < cost(a) ? b : a));
  return best.map((i) => (i < 0 ? null : i + 1));
}

/** Size of option i of a layer (-1: the whole layer). */
function sizeOf(layer: AllocLayer, i: number): number {
  return i < 0 ? layer.full : layer.options[i]!.size;
}

function costOf(layer: AllocLayer, i: number): number {
  return i < 0 ? 0 : layer.options[i]!.cost;
}

/** Marginal analysis along each layer's lower convex hull (option indices, -1 = whole). */
function marginal(layers: AllocLayer[], capacity: number): number[] {
  const at: number[] = layers.map((l) => (l.options.length === 0 ? -1 : 0));
  let used = layers.reduce((n, l, i) => n + sizeOf(l, at[i]!), 0);
  const hulls = layers.map(hullOf);
  const pos = layers.map(() => 0);
  for (;;) {
    let best = -1;
    let bestSlope = 0;
    for (let l = 0; l < layers.length; l++) {
      const h = hulls[l]!;
      if (at[l] === -1 || pos[l]! + 1 >= h.length) continue;
      const next = h[pos[l]! + 1]!;
      const grow = sizeOf(layers[l]!, next) - sizeOf(layers[l]!, at[l]!);
      if (used + grow > capacity) continue;
      const slope = (costOf(layers[l]!, next) - costOf(layers[l]!, at[l]!)) / grow;
      if (slope < bestSlope) {
        bestSlope = slope;
        best = l;
      }
    }
    if (best < 0) return at;
    const next = hulls[best]![pos[best]! + 1]!;
    used += sizeOf(layers[best]!, next) - sizeOf(layers[best]!, at[best]!);
    at[best] = next;
    pos[best]! += 1;
  }
}

/** Above this many (options x buckets) steps the dynamic program is skipped. */
const bucketWork = 4e7;

/**
 * The dynamic program over the capacity in buckets (at least 1000, and 20 per layer, so that the rounding
 * wastes at most a twentieth of a bucket per layer on average); undefined when too large or when the
 * rounding leaves no solution.
 */
function bucketed(layers: AllocLayer[], capacity: number): number[] | undefined {
  const B = Math.max(1000, 20 * layers.length);
  const options = layers.reduce((n, l) => n + l.options.length + 1, 0);
  if (options * B > bucketWork || capacity <= 0) return undefined;
  const unit = capacity / B;
  const buckets = (size: number) => Math.ceil(size / unit - 1e-9);
  let dp = new Float64Array(B + 1).fill(Infinity);
  dp[0] = 0;
  const choice: Int32Array[] = [];
  for (const layer of layers) {
    const next = new Float64Array(B + 1).fill(Infinity);
    const pick = new Int32Array(B + 1).fill(-2);
    for (let i = -1; i < layer.options.length; i++) {
      const w = buckets(sizeOf(layer, i));
      const c = costOf(layer, i);
      for (let b = 0; b + w <= B; b++) {
        const v = dp[b]! + c;
        if (v < next[b + w]!) {
          next[b + w] = v;
          pick[b + w] = i;
        }
      }
    }
    choice.push(pick);
    dp = next;
  }
  let end = -1;
  for (let b = 0; b <= B; b++) if (dp[b]! < Infinity && (end < 0 || dp[b]! < dp[end]!)) end = b;
  if (end < 0) return undefined;
  const at = layers.map(() => -1);
  for (let l = layers.length - 1; l >= 0; l--) {
    const i = choice[l]![end]!;
    at[l] = i;
    end -= buckets(sizeOf(layers[l]!, i));
  }
  return at;
}

/** Spends what capacity is left on the single change (a larger rank, or the whole layer) that lowers the cost most, until none fits. */
function fill(layers: AllocLayer[], capacity: number, start: number[]): number[] {
  const at = start.slice();
  let used = layers.reduce((n, l, i) => n + sizeOf(l, at[i]!), 0);
  for (;;) {
    let best = -1;
    let bestTo = 0;
    let bestGain = 0;
    for (let l = 0; l < layers.length; l++) {
      const layer = layers[l]!;
      const cur = at[l]!;
      if (cur === -1) continue;
      const room = capacity - used + sizeOf(layer, cur);
      for (let i = cur + 1; i <= layer.options.length; i++) {
        const to = i === layer.options.length ? -1 : i;
        if (sizeOf(layer, to) > room) break;
        const gain = costOf(layer, cur) - costOf(layer, to);
        if (gain > bestGain) {
          bestGain = gain;
          best = l;
          bestTo = to;
        }
      }
    }
    if (best < 0) return at;
    used += sizeOf(layers[best]!, bestTo) - sizeOf(layers[best]!, at[best]!);
    at[best] = bestTo;
  }
}

/**
 * A layer's cost at every saving rank from the model's output error measured at a few ranks (`points`,
 * ascending in rank) and the layer's own relative error curve: between measured ranks, the ratio of the
 * two is interpolated linearly (so the measured points are met exactly and the curve keeps the shape of
 * the layer's exact truncation error); outside them the nearest ratio is used.
 */
export function interpolatedCosts(s: Spectrum, points: { rank: number; error: number }[], maxRank: number): number[] {
  const ratio = points.map((p) => {
    const e = relativeError(s, p.rank);
    return e > 0 ? p.error / e : 0;
  });
  const out: number[] = [];
  for (let r = 1; r <= maxRank; r++) {
    const e = relativeError(s, r);
    let k = 0;
    while (k < points.length && points[k]!.rank < r) k++;
    let f: number;
    if (k < points.length && points[k]!.rank === r) {
      out.push(points[k]!.error);
      continue;
    }
    if (k === 0) f = ratio[0]!;
    else if (k === points.length) f = ratio[points.length - 1]!;
    else {
      const p = points[k - 1]!;
      const q = points[k]!;
      const t = (r - p.rank) / (q.rank - p.rank);
      f = ratio[k - 1]! * (1 - t) + ratio[k]! * t;
    }
    out.push(f * e);
  }
  return out;
}

/** The ranks at which a layer's effect on the model is measured: 1, and 1/16 ... all of its saving ranks. */
export function measuredRanks(maxRank: number): number[] {
  const set = new Set<number>([1]);
  for (const f of [1 / 16, 1 / 8, 1 / 4, 1 / 2, 1]) set.add(Math.max(1, Math.round(f * maxRank)));
  return [...set].sort((a, b) => a - b);
}

/**
 * For a Conv, which of the channel and spatial factorizations to use and at what rank: at the error the
 * rule asks (energy: 1 - energy; rank: the channel rank's error) the one with fewer parameters; for a
 * ratio (parameters fixed) the one with the lower error.
 */
export function chooseFactorization(candidates: Spectrum[], rule: Exclude<RankRule, { kind: 'budget' }>): { spectrum: Spectrum; rank: number } {
  const first = candidates[0]!;
  if (candidates.length === 1) return { spectrum: first, rank: rankFor(first, rule) };
  if (rule.kind === 'ratio') {
    let best = { spectrum: first, rank: rankFor(first, rule) };
    for (const c of candidates.slice(1)) {
      const r = rankFor(c, rule);
      if (r >= 1 && (best.rank < 1 || relativeError(c, r) < relativeError(best.spectrum, best.rank))) best = { spectrum: c, rank: r };
    }
    return best;
  }
  const asked = rule.kind === 'energy' ? 1 - rule.energy : relativeError(first, rankFor(first, rule));
  let best = { spectrum: first, rank: rankFor(first, rule) };
  for (const c of candidates.slice(1)) {
    let r = c.svd.k;
    for (let q = 1; q <= c.svd.k; q++) {
      if (relativeError(c, q) <= asked * (1 + 1e-9)) {
        r = q;
        break;
      }
    }
    if (paramsAt(c, r) < paramsAt(best.spectrum, best.rank)) best = { spectrum: c, rank: r };
  }
  return best;
}
