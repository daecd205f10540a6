/**
 * The singular value decomposition, which TensorFlow.js does not have.
 *
 * - `svdExact`: one-sided Jacobi (Hestenes 1958; Demmel & Veselić 1992) in float64, after a Householder
 *   QR that shrinks a tall matrix to its n x n triangle (the "QR preconditioning" of Drmač & Veselić
 *   2008). One-sided Jacobi computes small singular values to high relative accuracy, unlike the
 *   eigendecomposition of WᵀW, which squares the condition number; that matters for ill-conditioned
 *   weights and for the whitened matrices of activation-aware SVD.
 * - `svdRandomized`: the randomized range finder with subspace (power) iterations of Halko, Martinsson &
 *   Tropp, "Finding structure with randomness" (SIAM Review 2011), algorithms 4.4 and 5.1: sketch
 *   Y = A Ω, re-orthonormalize between the products with A and Aᵀ, then the exact SVD of the small
 *   Qᵀ A. The products with A, the only O(m n l) work, run on tfjs matmul (float32).
 *
 * Matrices are row-major `Float64Array`/`Float32Array`s; results are row-major float64:
 * A (m x n) ≈ U diag(s) Vᵀ with U (m x k), V (n x k), s descending.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A (thin or truncated) SVD: A ≈ U diag(s) Vᵀ. */
export interface Svd {
  m: number;
  n: number;
  /** Number of singular triplets kept. */
  k: number;
  /** Left singular vectors, m x k row-major. */
  u: Float64Array;
  /** Singular values, descending, length k. */
  s: Float64Array;
  /** Right singular vectors, n x k row-major. */
  v: Float64Array;
}

/** A dense row-major matrix view. */
export type MatrixData = Float64Array | Float32Array;

const eps = 2.220446049250313e-16;

/** Aᵀ of a row-major m x n matrix, as float64. */
export function transpose(a: MatrixData, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j]!;
  return t;
}

/**
 * Householder QR of a tall m x n matrix (m >= n), in place on column arrays: returns R (n x n, row-major)
 * and the reflectors, applied by `applyQ`. Golub & Van Loan, "Matrix Computations", algorithm 5.2.1.
 */
function householderQr(cols: Float64Array[], m: number): { r: Float64Array; vs: Float64Array[]; betas: Float64Array } {
  const n = cols.length;
  const vs: Float64Array[] = [];
  const betas = new Float64Array(n);
  const r = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const x = cols[j]!;
    let norm = 0;
    for (let i = j; i < m; i++) norm += x[i]! * x[i]!;
    norm = Math.sqrt(norm);
    const v = new Float64Array(m);
    let beta = 0;
    if (norm > 0) {
      const alpha = x[j]! >= 0 ? -norm : norm;
      for (let i = j; i < m; i++) v[i] = x[i]!;
      v[j] = v[j]! - alpha;
      let vv = 0;
      for (let i = j; i < m; i++) vv += v[i]! * v[i]!;
      beta = vv > 0 ? 2 / vv : 0;
      // Apply H = I - beta v vᵀ to this and the remaining columns.
      for (let c = j; c < n; c++) {
        const y = cols[c]!;
        let d = 0;
        for (let i = j; i < m; i++) d += v[i]! * y[i]!;
        d *= beta;
        if (d !== 0) for (let i = j; i < m; i++) y[i] = y[i]! - d * v[i]!;
      }
    }
    vs.push(v);
    betas[j] = beta;
    for (let c = j; c < n; c++) r[j * n + c] = cols[c]![j]!;
  }
  return { r, vs, betas };
}

/** Q x for the reflectors of `householderQr` (x of length m, changed in place). */
function applyQ(vs: Float64Array[], betas: Float64Array, x: Float64Array, m: number): void {
  for (let j = vs.length - 1; j >= 0; j--) {
    const v = vs[j]!;
    const beta = betas[j]!;
    if (beta === 0) continue;
    let d = 0;
    for (let i = j; i < m; i++) d += v[i]! * x[i]!;
    d *= beta;
    for (let i = j; i < m; i++) x[i] = x[i]! - d * v[i]!;
  }
}

/** Options of `svdExact`. */
export interface ExactSvdOptions {
  /** Jacobi sweeps before giving up on convergence (it converges quadratically, ~6-10 sweeps). */
  maxSweeps?: number;
}

/**
 * One-sided Jacobi on n columns of length m (m >= n): rotates column pairs until all are orthogonal,
 * accumulating the rotations in V. Returns the columns (U diag(s)) and V, both as column arrays.
 */
function jacobiColumns(cols: Float64Array[], m: number, maxSweeps: number): { cols: Float64Array[]; v: Float64Array[] } {
  const n = cols.length;
  const v = Array.from({ length: n }, (_, j) => {
    const e = new Float64Array(n);
    e[j] = 1;
    return e;
  });
  const norms = new Float64Array(n);
  for (let j = 0; j < n; j++) norms[j] = dot(cols[j]!, cols[j]!, m);
  const tol = eps * m;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const ap = cols[p]!;
        const aq = cols[q]!;
        const gamma = dot(ap, aq, m);
        const alpha = norms[p]!;
        const beta = norms[q]!;
        if (gamma === 0 || Math.abs(gamma) <= tol * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        // The rotation that zeroes the (p, q) entry of the Gram matrix (Rutishauser's formulas).
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        rotate(ap, aq, c, s, m);
        rotate(v[p]!, v[q]!, c, s, n);
        // Exact updates of the squared norms; refreshed each sweep against drift.
        norms[p] = alpha - t * gamma;
        norms[q] = beta + t * gamma;
      }
    }
    for (let j = 0; j < n; j++) norms[j] = dot(cols[j]!, cols[j]!, m);
    if (!rotated) break;
  }
  return { cols, v };
}

function dot(a: Float64Array, b: Float64Array, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i++) s += a[i]! * b[i]!;
  return s;
}

function rotate(a: Float64Array, b: Float64Array, c: number, s: number, len: number): void {
  for (let i = 0; i < len; i++) {
    const x = a[i]!;
    const y = b[i]!;
    a[i] = c * x - s * y;
    b[i] = s * x + c * y;
  }
}

/**
 * Makes column j of `u` (m x k column arrays) a unit vector orthogonal to the others, for singular values
 * that are zero (their direction is arbitrary, but U must stay orthonormal). Gram-Schmidt, twice.
 */
function completeColumn(u: Float64Array[], j: number, m: number): void {
  for (let e = 0; e < m; e++) {
    const x = new Float64Array(m);
    x[(e + j) % m] = 1;
    for (let pass = 0; pass < 2; pass++) {
      for (let c = 0; c < u.length; c++) {
        if (c === j) continue;
        const d = dot(u[c]!, x, m);
        for (let i = 0; i < m; i++) x[i] = x[i]! - d * u[c]![i]!;
      }
    }
    const nrm = Math.sqrt(dot(x, x, m));
    if (nrm > 1e-6) {
      for (let i = 0; i < m; i++) x[i] = x[i]! / nrm;
      u[j] = x;
      return;
    }
  }
}

/** The thin exact SVD of a tall matrix given as columns (m >= n). */
function svdTall(cols: Float64Array[], m: number, maxSweeps: number): { u: Float64Array[]; s: Float64Array; v: Float64Array[] } {
  const n = cols.length;
  // A tall matrix is first reduced to its triangle R (A = Q R): Jacobi then rotates n-long columns.
  const precondition = m > n + n / 4;
  let work = cols;
  let qr: ReturnType<typeof householderQr> | undefined;
  if (precondition) {
    qr = householderQr(cols, m);
    work = Array.from({ length: n }, (_, j) => {
      const c = new Float64Array(n);
      for (let i = 0; i <= j; i++) c[i] = qr!.r[i * n + j]!;
      return c;
    });
  }
  const rows = precondition ? n : m;
  const { cols: us, v } = jacobiColumns(work, rows, maxSweeps);
  const s = new Float64Array(n);
  for (let j = 0; j < n; j++) s[j] = Math.sqrt(dot(us[j]!, us[j]!, rows));
  const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => s[b]! - s[a]!);
  const sSorted = Float64Array.from(order, (j) => s[j]!);
  let u = order.map((j) => us[j]!);
  const vSorted = order.map((j) => v[j]!);
  const small = Math.max(sSorted[0] ?? 0, 1e-300) * eps * Math.max(m, n);
  for (let j = 0; j < n; j++) {
    const sj = sSorted[j]!;
    if (sj > small) for (let i = 0; i < rows; i++) u[j]![i] = u[j]![i]! / sj;
  }
  for (let j = 0; j < n; j++) if (!(sSorted[j]! > small)) completeColumn(u, j, rows);
  if (qr) {
    u = u.map((c) => {
      const full = new Float64Array(m);
      full.set(c);
      applyQ(qr!.vs, qr!.betas, full, m);
      return full;
    });
  }
  return { u, s: sSorted, v: vSorted };
}

function columnsOf(a: MatrixData, m: number, n: number): Float64Array[] {
  return Array.from({ length: n }, (_, j) => {
    const c = new Float64Array(m);
    for (let i = 0; i < m; i++) c[i] = a[i * n + j]!;
    return c;
  });
}

function toRowMajor(cols: Float64Array[], rows: number, k: number): Float64Array {
  const out = new Float64Array(rows * k);
  for (let j = 0; j < k; j++) {
    const c = cols[j]!;
    for (let i = 0; i < rows; i++) out[i * k + j] = c[i]!;
  }
  return out;
}

/**
 * The thin SVD of a row-major m x n matrix, exact to float64 rounding: k = min(m, n) triplets with s
 * descending, U and V with orthonormal columns.
 */
export function svdExact(a: MatrixData, m: number, n: number, options: ExactSvdOptions = {}): Svd {
  if (a.length !== m * n) throw new RangeError(`svdExact: ${a.length} entries for a ${m} x ${n} matrix`);
  const maxSweeps = options.maxSweeps ?? 60;
  const k = Math.min(m, n);
  if (k === 0) return { m, n, k, u: new Float64Array(0), s: new Float64Array(0), v: new Float64Array(0) };
  if (m >= n) {
    const r = svdTall(columnsOf(a, m, n), m, maxSweeps);
    return { m, n, k, u: toRowMajor(r.u, m, k), s: r.s, v: toRowMajor(r.v, n, k) };
  }
  // Wide: the SVD of Aᵀ with the roles of U and V swapped. Aᵀ's columns are A's rows.
  const rowsOfA = Array.from({ length: m }, (_, i) => Float64Array.from(a.subarray(i * n, (i + 1) * n)));
  const r = svdTall(rowsOfA, n, maxSweeps);
  return { m, n, k, u: toRowMajor(r.v, m, k), s: r.s, v: toRowMajor(r.u, n, k) };
}

/** Orthonormal columns spanning a tall m x l matrix's columns (thin Q of Householder QR), row-major. */
export function orthonormalize(y: MatrixData, m: number, l: number): Float64Array {
  const cols = columnsOf(y, m, l);
  const { vs, betas } = householderQr(cols, m);
  const q: Float64Array[] = [];
  for (let j = 0; j < l; j++) {
    const e = new Float64Array(m);
    e[j] = 1;
    applyQ(vs, betas, e, m);
    q.push(e);
  }
  return toRowMajor(q, m, l);
}

/** Options of `svdRandomized`. */
export interface RandomizedSvdOptions {
  /** Extra sketch columns beyond the rank (Halko et al. recommend 5-10). Default 10. */
  oversample?: number;
  /** Power iterations: each multiplies by (A Aᵀ) once, sharpening a slowly decaying spectrum. Default 2. */
  powerIterations?: number;
  /** Seed of the Gaussian test matrix (the result is deterministic for a seed). Default 0. */
  seed?: number;
}

/** A seeded standard normal generator (mulberry32 + Box-Muller). */
export function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** C = op(A) op(B) on tfjs (float32), returned as float64. */
export function matmul(a: MatrixData, aRows: number, aCols: number, b: MatrixData, bRows: number, bCols: number, transA = false, transB = false): Float64Array {
  const out = tf.tidy(() => {
    const ta = tf.tensor2d(a instanceof Float32Array ? a : Float32Array.from(a), [aRows, aCols]);
    const tb = tf.tensor2d(b instanceof Float32Array ? b : Float32Array.from(b), [bRows, bCols]);
    return tf.matMul(ta, tb, transA, transB);
  });
  const data = out.dataSync();
  out.dispose();
  return Float64Array.from(data);
}

/**
 * A rank-`rank` SVD of an m x n matrix by randomized subspace iteration (Halko et al. 2011, algorithm
 * 4.4 then 5.1). Accuracy depends on the spectrum's decay beyond `rank`; with two power iterations it
 * matches the exact truncated SVD to a few digits on matrices of practical interest.
 */
export function svdRandomized(a: MatrixData, m: number, n: number, rank: number, options: RandomizedSvdOptions = {}): Svd {
  const k = Math.min(rank, m, n);
  const l = Math.min(k + (options.oversample ?? 10), m, n);
  const q = options.powerIterations ?? 2;
  const g = gaussian(options.seed ?? 0);
  const af = a instanceof Float32Array ? a : Float32Array.from(a);
  const omega = new Float32Array(n * l);
  for (let i = 0; i < omega.length; i++) omega[i] = g();
  // Range finder: Q spans A Ω, refined by (A Aᵀ)^q with re-orthonormalization after every product
  // (algorithm 4.4), which keeps the small singular directions from being lost to rounding.
  let Q = orthonormalize(matmul(af, m, n, omega, n, l), m, l);
  for (let it = 0; it < q; it++) {
    const z = orthonormalize(matmul(af, m, n, Q, m, l, true, false), n, l);
    Q = orthonormalize(matmul(af, m, n, z, n, l), m, l);
  }
  // B = Qᵀ A (l x n), small: its exact SVD gives A ≈ (Q U_B) S Vᵀ.
  const b = matmul(Q, m, l, af, m, n, true, false);
  const small = svdExact(b, l, n);
  const u = new Float64Array(m * k);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < k; j++) {
      let acc = 0;
      for (let t = 0; t < l; t++) acc += Q[i * l + t]! * small.u[t * small.k + j]!;
      u[i * k + j] = acc;
    }
  }
  const v = new Float64Array(n * k);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) v[i * k + j] = small.v[i * small.k + j]!;
  return { m, n, k, u, s: small.s.slice(0, k), v };
}

/** Options of `svd`. */
export interface SvdOptions extends RandomizedSvdOptions {
  /** Only this many leading triplets are needed (enables the randomized method on large matrices). */
  rank?: number;
  /**
   * Matrices with more entries than this (and a requested rank below a fifth of min(m, n)) use the
   * randomized method. Default 2^20.
   */
  randomizedAbove?: number;
}

/**
 * The SVD, choosing the method: exact (one-sided Jacobi) unless the matrix is large and only a small
 * rank is asked, then randomized. The result has min(rank, m, n) triplets.
 */
export function svd(a: MatrixData, m: number, n: number, options: SvdOptions = {}): Svd {
  const kMax = Math.min(m, n);
  const rank = Math.min(options.rank ?? kMax, kMax);
  if (m * n > (options.randomizedAbove ?? 1 << 20) && rank * 5 < kMax) return svdRandomized(a, m, n, rank, options);
  return truncate(svdExact(a, m, n), rank);
}

/** The leading r triplets of an SVD. */
export function truncate(d: Svd, r: number): Svd {
  const k = Math.min(r, d.k);
  if (k === d.k) return d;
  const u = new Float64Array(d.m * k);
  const v = new Float64Array(d.n * k);
  for (let i = 0; i < d.m; i++) for (let j = 0; j < k; j++) u[i * k + j] = d.u[i * d.k + j]!;
  for (let i = 0; i < d.n; i++) for (let j = 0; j < k; j++) v[i * k + j] = d.v[i * d.k + j]!;
  return { m: d.m, n: d.n, k, u, s: d.s.slice(0, k), v };
}

/** U diag(s) Vᵀ (row-major m x n, float64). */
export function reconstruct(d: Svd): Float64Array {
  const out = new Float64Array(d.m * d.n);
  for (let i = 0; i < d.m; i++) {
    for (let j = 0; j < d.n; j++) {
      let acc = 0;
      for (let t = 0; t < d.k; t++) acc += d.u[i * d.k + t]! * d.s[t]! * d.v[j * d.k + t]!;
      out[i * d.n + j] = acc;
    }
  }
  return out;
}

/**
 * tail[r] = Σ_{i >= r} s_i²: the squared Frobenius error of the best rank-r approximation (Eckart-Young),
 * for r = 0..k.
 */
export function tailEnergy(s: ArrayLike<number>): Float64Array {
  const tail = new Float64Array(s.length + 1);
  for (let i = s.length - 1; i >= 0; i--) tail[i] = tail[i + 1]! + s[i]! * s[i]!;
  return tail;
}
