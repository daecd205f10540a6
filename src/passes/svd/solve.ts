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

/** The rank a per-layer rule asks for (budget is global: see `greedyRanks`). */
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

/** A layer as the budget allocation sees it. */
export interface BudgetLayer {
  spectrum: Spectrum;
  /** How much the model's output error grows per unit of this layer's relative error (default 1). */
  weight?: number;
}

/**
 * Spreads a global saving of `toSave` parameters over layers, greedily (AIMET's greedy compression-ratio
 * selection; a layer's sensitivity is its relative output error times its measured `weight`): at each
 * step the layer whose weighted error grows least per parameter saved gives up rank (the first step jumps
 * from the unfactorized weight to the highest rank that saves anything). Returns each layer's rank, or
 * null for layers left whole; throws NumericsError if even rank 1 everywhere does not save enough.
 */
export function greedyRanks(layers: BudgetLayer[], toSave: number): (number | null)[] {
  const ranks: (number | null)[] = layers.map(() => null);
  let saved = 0;
  while (saved < toSave) {
    let best = -1;
    let bestCost = Infinity;
    let bestSave = 0;
    let bestRank = 0;
    layers.forEach((layer, i) => {
      const s = layer.spectrum;
      const cur = ranks[i]!;
      let next: number;
      let save: number;
      let cost: number;
      if (cur === null) {
        next = maxSavingRank(s);
        if (next < 1) return;
        save = s.full - paramsAt(s, next);
        cost = relativeError(s, next);
      } else {
        if (cur <= 1) return;
        next = cur - 1;
        save = s.rows + s.cols;
        cost = relativeError(s, next) - relativeError(s, cur);
      }
      const perParam = (cost * (layer.weight ?? 1)) / save;
      if (perParam < bestCost) {
        bestCost = perParam;
        best = i;
        bestSave = save;
        bestRank = next;
      }
    });
    if (best < 0) throw new NumericsError(`the budget cannot be reached: rank 1 in every factorizable layer still leaves ${Math.ceil(toSave - saved)} parameters too many`, 'raise --budget, or drop --exclude');
    ranks[best] = bestRank;
    saved += bestSave;
  }
  return ranks;
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
