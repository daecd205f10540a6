/**
 * Dense linear algebra the compression passes need and TensorFlow.js lacks: Cholesky factorisation,
 * triangular inverses, the upper Cholesky factor of an inverse (GPTQ, SparseGPT), and Gram-matrix
 * accumulation (X^T X for Hessians). Matrices are row-major Float32Arrays with explicit sizes.
 *
 * The O(n^3) work runs on tfjs matmul (the wasm backend does ~24 GFLOP/s on two cores, plain JS ~1): the
 * factorisations are recursive on halves, [[A, 0], [B, C]], so that every level but the small leaves is
 * a few large matrix products (the "recursive blocked" formulation of Gustavson, 1997, and of LAPACK's
 * dpotrf2). Leaves of at most `leafSize` rows are done in float64 JS loops.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Leaves of the recursion are at most this many rows; below it JS loops beat tfjs round trips. */
const leafSize = 96;

/**
 * op(A) op(B) on tfjs with any transposes made explicit first: tfjs-wasm's matMul with transposeA or
 * transposeB runs ~15x slower (0.7 against 11-17 GFLOP/s measured on 1024^3) than a plain matMul after
 * an O(n^2) tf.transpose. Call inside tf.tidy.
 */
export function mm(a: tf.Tensor2D, b: tf.Tensor2D, transA = false, transB = false): tf.Tensor2D {
  return tf.matMul(transA ? tf.transpose(a) : a, transB ? tf.transpose(b) : b);
}

/**
 * Runs `f` in tf.tidy and reads its tensor result back. The read happens outside tidy on purpose: tidy
 * walks whatever its function returns looking for tensors, element by element for a typed array, which
 * for a million-entry result costs more than the matmul that made it.
 */
function read(f: () => tf.Tensor): Float32Array {
  const t = tf.tidy(f);
  const out = t.dataSync() as Float32Array;
  t.dispose();
  return out;
}

/** C = op(A) op(B) for row-major float32 matrices, computed with tfjs (op = transpose when asked). */
export function matmul(a: Float32Array, aRows: number, aCols: number, b: Float32Array, bRows: number, bCols: number, transA = false, transB = false): Float32Array {
  return read(() => mm(tf.tensor2d(a, [aRows, aCols], 'float32'), tf.tensor2d(b, [bRows, bCols], 'float32'), transA, transB));
}

/**
 * C - A^T B for row-major C [m, n], A [k, m], B [k, n], on tfjs (the result comes back in one read, so
 * the caller copies it into place rather than subtracting element by element in JS).
 */
export function subtractProduct(c: Float32Array, m: number, a: Float32Array, k: number, b: Float32Array, n: number): Float32Array {
  return read(() => tf.sub(tf.tensor2d(c, [m, n]), mm(tf.tensor2d(a, [k, m]), tf.tensor2d(b, [k, n]), true, false)));
}

/** C + A B for row-major C [m, n], A [m, k], B [k, n], on tfjs (one read, as subtractProduct). */
export function addProduct(c: Float32Array, m: number, a: Float32Array, k: number, b: Float32Array, n: number): Float32Array {
  return read(() => tf.add(tf.tensor2d(c, [m, n]), tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n]))));
}

/** The r x c sub-matrix of an n-column matrix starting at (r0, c0). */
export function subMatrix(a: Float32Array, n: number, r0: number, r: number, c0: number, c: number): Float32Array {
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) out.set(a.subarray((r0 + i) * n + c0, (r0 + i) * n + c0 + c), i * c);
  return out;
}

/** Writes the r x c matrix `b` into the n-column matrix `a` at (r0, c0). */
function setSubMatrix(a: Float32Array, n: number, r0: number, c0: number, b: Float32Array, r: number, c: number): void {
  for (let i = 0; i < r; i++) a.set(b.subarray(i * c, (i + 1) * c), (r0 + i) * n + c0);
}

/** Thrown (internally, then mapped by the caller) when a matrix is not numerically positive definite. */
export class NotPositiveDefiniteError extends Error {
  constructor(readonly pivot: number) {
    super(`matrix is not positive definite (pivot ${pivot})`);
  }
}

/** Lower Cholesky factor and its inverse of a small SPD matrix, in float64 loops. */
function leafCholesky(a: Float32Array, n: number): { l: Float32Array; inv: Float32Array } {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let k = 0; k < j; k++) d -= l[j * n + k]! * l[j * n + k]!;
    if (!(d > 0) || !Number.isFinite(d)) throw new NotPositiveDefiniteError(j);
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = s / ljj;
    }
  }
  return { l: Float32Array.from(l), inv: Float32Array.from(leafLowerInverse(l, n)) };
}

/** Inverse of a lower-triangular float64 matrix by forward substitution, column by column. */
function leafLowerInverse(l: ArrayLike<number>, n: number): Float64Array {
  const x = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    x[j * n + j] = 1 / l[j * n + j]!;
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s += l[i * n + k]! * x[k * n + j]!;
      x[i * n + j] = -s / l[i * n + i]!;
    }
  }
  return x;
}

/**
 * The first steps of a recursive Cholesky with the top-left h x h block done: L21 = A21 L11^-T and the
 * Schur complement S = A22 - L21 L21^T that the bottom-right block is the factor of.
 */
function schurComplement(a: Float32Array, n: number, h: number, inv11: Float32Array): { l21: Float32Array; s: Float32Array } {
  const m = n - h;
  const a21 = subMatrix(a, n, h, m, 0, h);
  const a22 = subMatrix(a, n, h, m, h, m);
  const [tl21, ts] = tf.tidy(() => {
    const t21 = mm(tf.tensor2d(a21, [m, h]), tf.tensor2d(inv11, [h, h]), false, true);
    return [t21, tf.sub(tf.tensor2d(a22, [m, m]), mm(t21, t21, false, true))];
  });
  const l21 = tl21.dataSync() as Float32Array;
  const s = ts.dataSync() as Float32Array;
  tl21.dispose();
  ts.dispose();
  return { l21, s };
}

/**
 * The lower Cholesky factor L of a symmetric positive definite n x n matrix (A = L L^T) together with
 * L^-1, computed recursively: with A = [[A11, A21^T], [A21, A22]],
 *   L11 = chol(A11), L21 = A21 L11^-T, L22 = chol(A22 - L21 L21^T), (L^-1)21 = -L22^-1 L21 L11^-1.
 * Only the lower triangle of A is trusted. Throws NotPositiveDefiniteError with the failing pivot.
 */
export function choleskyWithInverse(a: Float32Array, n: number): { l: Float32Array; inv: Float32Array } {
  if (n <= leafSize) return leafCholesky(a, n);
  const h = Math.ceil(n / 2);
  const m = n - h;
  const first = choleskyWithInverse(subMatrix(a, n, 0, h, 0, h), h);
  const { l21, s } = schurComplement(a, n, h, first.inv);
  let second: { l: Float32Array; inv: Float32Array };
  try {
    second = choleskyWithInverse(s, m);
  } catch (e) {
    if (e instanceof NotPositiveDefiniteError) throw new NotPositiveDefiniteError(e.pivot + h);
    throw e;
  }
  const inv21 = read(() => tf.neg(tf.matMul(tf.matMul(tf.tensor2d(second.inv, [m, m]), tf.tensor2d(l21, [m, h])), tf.tensor2d(first.inv, [h, h]))));
  const l = new Float32Array(n * n);
  const inv = new Float32Array(n * n);
  setSubMatrix(l, n, 0, 0, first.l, h, h);
  setSubMatrix(l, n, h, 0, l21, m, h);
  setSubMatrix(l, n, h, h, second.l, m, m);
  setSubMatrix(inv, n, 0, 0, first.inv, h, h);
  setSubMatrix(inv, n, h, 0, inv21, m, h);
  setSubMatrix(inv, n, h, h, second.inv, m, m);
  return { l, inv };
}

/**
 * The lower Cholesky factor of an SPD matrix (A = L L^T), by the recursion of choleskyWithInverse but
 * without the inverse of the whole: the first half's inverse is still needed (L21 = A21 L11^-T), the
 * second half's and the off-diagonal block's are not, which saves 40 % of the products (0.76 n^3 flops
 * in full-size products against 1.33 n^3). Same L, bit for bit, as choleskyWithInverse.
 */
export function cholesky(a: Float32Array, n: number): Float32Array {
  if (n <= leafSize) return leafCholesky(a, n).l;
  const h = Math.ceil(n / 2);
  const m = n - h;
  const first = choleskyWithInverse(subMatrix(a, n, 0, h, 0, h), h);
  const { l21, s } = schurComplement(a, n, h, first.inv);
  let l22: Float32Array;
  try {
    l22 = cholesky(s, m);
  } catch (e) {
    if (e instanceof NotPositiveDefiniteError) throw new NotPositiveDefiniteError(e.pivot + h);
    throw e;
  }
  const l = new Float32Array(n * n);
  setSubMatrix(l, n, 0, 0, first.l, h, h);
  setSubMatrix(l, n, h, 0, l21, m, h);
  setSubMatrix(l, n, h, h, l22, m, m);
  return l;
}

/**
 * The upper-triangular R with R R^T = A for an SPD matrix A (a Cholesky factor taken from the last row
 * up): with J the order-reversing permutation and J A J = L' L'^T, R = J L' J. GPTQ's error propagation
 * reads its rows (see src/passes/gptq/solve.ts). Throws NotPositiveDefiniteError (pivot counted from the
 * last row).
 */
export function reversedCholesky(a: Float32Array, n: number): Float32Array {
  const l = cholesky(reverse(a, n), n);
  return reverse(l, n);
}

/** J A J for an n x n matrix A: rows and columns in reversed order. */
function reverse(a: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * n);
  const last = n * n - 1;
  for (let i = 0; i < out.length; i++) out[i] = a[last - i]!;
  return out;
}

/**
 * The inverse of a lower-triangular n x n matrix, recursively: inv([[A, 0], [B, C]]) =
 * [[A^-1, 0], [-C^-1 B A^-1, C^-1]].
 */
export function lowerTriangularInverse(l: Float32Array, n: number): Float32Array {
  if (n <= leafSize) return Float32Array.from(leafLowerInverse(l, n));
  const h = Math.ceil(n / 2);
  const m = n - h;
  const ainv = lowerTriangularInverse(subMatrix(l, n, 0, h, 0, h), h);
  const cinv = lowerTriangularInverse(subMatrix(l, n, h, m, h, m), m);
  const b = subMatrix(l, n, h, m, 0, h);
  const x21 = read(() => tf.neg(tf.matMul(tf.matMul(tf.tensor2d(cinv, [m, m]), tf.tensor2d(b, [m, h])), tf.tensor2d(ainv, [h, h]))));
  const out = new Float32Array(n * n);
  setSubMatrix(out, n, 0, 0, ainv, h, h);
  setSubMatrix(out, n, h, 0, x21, m, h);
  setSubMatrix(out, n, h, h, cinv, m, m);
  return out;
}

/** The inverse of an upper-triangular matrix (through its transpose, which is lower triangular). */
export function upperTriangularInverse(u: Float32Array, n: number): Float32Array {
  return transpose(lowerTriangularInverse(transpose(u, n, n), n), n, n);
}

/**
 * The [K, N] matrix a Gemm multiplies by: B, or B transposed when transB = 1, times alpha (MatMulNBits
 * has neither attribute, so both are folded into the weights before quantization).
 */
export function gemmWeightMatrix(b: Float32Array, dims: readonly number[], transB: boolean, alpha: number): { data: Float32Array; dims: [number, number] } {
  const [r, c] = dims as [number, number];
  if (!transB) {
    if (alpha === 1) return { data: b, dims: [r, c] };
    return { data: Float32Array.from(b, (v) => v * alpha), dims: [r, c] };
  }
  const out = transpose(b, r, c);
  if (alpha !== 1) for (let i = 0; i < out.length; i++) out[i] = out[i]! * alpha;
  return { data: out, dims: [c, r] };
}

/** The transpose of an r x c row-major matrix. */
export function transpose(a: Float32Array, r: number, c: number): Float32Array {
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j]!;
  return out;
}

/**
 * The upper-triangular U with U^T U = A^-1 for an SPD matrix A: what GPTQ and SparseGPT call
 * `Hinv = cholesky(cholesky_inverse(cholesky(H)), upper=True)`. Computed with one Cholesky and no explicit
 * inverse of A: with J the order-reversing permutation and J A J = L' L'^T, A = R R^T for the upper
 * triangular R = J L' J, so A^-1 = R^-T R^-1 and U = R^-1 = J L'^-1 J (positive diagonal, hence the
 * unique Cholesky factor). Throws NotPositiveDefiniteError.
 */
export function inverseUpperCholesky(a: Float32Array, n: number): Float32Array {
  const rev = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) rev[i * n + j] = a[(n - 1 - i) * n + (n - 1 - j)]!;
  const { inv } = choleskyWithInverse(rev, n);
  const u = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) u[i * n + j] = inv[(n - 1 - i) * n + (n - 1 - j)]!;
  return u;
}

/** Solves L x = b for lower-triangular L (forward substitution, float64). */
export function solveLower(l: Float32Array, n: number, b: ArrayLike<number>): Float64Array {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * n + k]! * x[k]!;
    x[i] = s / l[i * n + i]!;
  }
  return x;
}

/** Solves U x = b for upper-triangular U (back substitution, float64). */
export function solveUpper(u: Float32Array, n: number, b: ArrayLike<number>): Float64Array {
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let k = i + 1; k < n; k++) s -= u[i * n + k]! * x[k]!;
    x[i] = s / u[i * n + i]!;
  }
  return x;
}

/** Above this input length, X^T X is computed in column blocks of this size, upper triangle only. */
export const GRAM_BLOCK = 768;

/**
 * A running X^T X (K x K, float32 on tfjs). Up to GRAM_BLOCK inputs it is one [K, K] product per batch;
 * above, the columns are cut in blocks of GRAM_BLOCK and only the blocks on and above the diagonal are
 * multiplied (the Gram matrix is symmetric): 10 of 16 block products for K = 3072, which measured 1.3x
 * faster than the full product on the wasm backend. `toFloat32` mirrors the upper blocks into the full
 * matrix. The same float32 sums as the full product up to summation order within XNNPACK's tiles.
 */
export class GramSum {
  readonly K: number;
  /** Column block starts. */
  private readonly starts: number[];
  /** Block (i, j), j >= i, at index i * nb + j; null before the first batch. */
  private blocks: (tf.Tensor2D | null)[];

  constructor(K: number) {
    this.K = K;
    this.starts = [];
    for (let s = 0; s < K; s += K > GRAM_BLOCK ? GRAM_BLOCK : K) this.starts.push(s);
    this.blocks = new Array<tf.Tensor2D | null>(this.starts.length * this.starts.length).fill(null);
  }

  /** Adds X^T X of the rows of `x` ([rows, K], any leading shape flattened; `transposed`: [K, rows]). */
  add(x: tf.Tensor, transposed = false): void {
    const K = this.K;
    const nb = this.starts.length;
    const size = (i: number) => (i + 1 < nb ? this.starts[i + 1]! : K) - this.starts[i]!;
    const next = tf.tidy(() => {
      const xf = asRows(x, K, transposed);
      const rows = xf.shape[0];
      const out: tf.Tensor2D[] = [];
      const accumulate = (index: number, g: tf.Tensor2D) => {
        const prev = this.blocks[index];
        out.push(prev ? (tf.add(prev, g) as tf.Tensor2D) : g);
      };
      // One explicit transpose (tfjs-wasm's matMul with transpose flags is ~15x slower).
      if (nb === 1) {
        accumulate(0, tf.matMul(tf.transpose(xf) as tf.Tensor2D, xf) as tf.Tensor2D);
        return out;
      }
      // The column blocks are cut on the host from one read-back: tf.slice on wasm copies the whole
      // operand for each slice.
      const host = xf.dataSync() as Float32Array;
      const cols = this.starts.map((c0, j) => {
        const w = size(j);
        const part = new Float32Array(rows * w);
        for (let r = 0; r < rows; r++) part.set(host.subarray(r * K + c0, r * K + c0 + w), r * w);
        return tf.tensor2d(part, [rows, w]);
      });
      for (let i = 0; i < nb; i++) {
        const a = tf.transpose(cols[i]!) as tf.Tensor2D;
        for (let j = i; j < nb; j++) accumulate(i * nb + j, tf.matMul(a, cols[j]!) as tf.Tensor2D);
      }
      return out;
    });
    let k = 0;
    for (let i = 0; i < nb; i++) {
      for (let j = i; j < nb; j++) {
        this.blocks[i * nb + j]?.dispose();
        this.blocks[i * nb + j] = next[k++]!;
      }
    }
  }

  /** The full X^T X ([K, K] row-major); zeros before any batch. */
  toFloat32(): Float32Array {
    const K = this.K;
    const nb = this.starts.length;
    const g = new Float32Array(K * K);
    if (this.blocks[0] === null) return g;
    for (let i = 0; i < nb; i++) {
      for (let j = i; j < nb; j++) {
        const blk = this.blocks[i * nb + j]!;
        const d = blk.dataSync() as Float32Array;
        const [h, w] = blk.shape;
        const r0 = this.starts[i]!;
        const c0 = this.starts[j]!;
        for (let r = 0; r < h; r++) {
          for (let c = 0; c < w; c++) {
            const v = d[r * w + c]!;
            g[(r0 + r) * K + c0 + c] = v;
            if (i !== j) g[(c0 + c) * K + r0 + r] = v;
          }
        }
      }
    }
    return g;
  }

  dispose(): void {
    for (const b of this.blocks) b?.dispose();
    this.blocks.fill(null);
  }
}

/**
 * `x` as float32 rows [rows, K]: x is [rows, K] with any leading shape flattened, or [K, rows] when
 * `transposed` (a Gemm input read with transA = 1). Call inside a tidy.
 */
function asRows(x: tf.Tensor, K: number, transposed: boolean): tf.Tensor2D {
  const x2 = transposed ? tf.reshape(x, [K, -1]).transpose() : tf.reshape(x, [-1, K]);
  return (x2.dtype === 'float32' ? x2 : tf.cast(x2, 'float32')) as tf.Tensor2D;
}

/**
 * Adds the per-column sums of `x` (rows as in GramSum.add), or with `squared` of its squares, to `acc`
 * (float64, on the host): the column means that bias correction needs (the expected input of a pruned
 * layer), or the squared column norms that Wanda weighs weights by.
 */
export function addColumnSums(acc: Float64Array, x: tf.Tensor, K: number, transposed = false, squared = false): void {
  const s = read(() => {
    const rows = asRows(x, K, transposed);
    return tf.sum(squared ? tf.square(rows) : rows, 0);
  });
  for (let k = 0; k < K; k++) acc[k]! += s[k]!;
}

/** The number of rows GramSum.add sees in `x` (its size over K). */
export function rowsOf(x: tf.Tensor, K: number): number {
  return x.size / K;
}

/**
 * tr(E^T H E) for H [K, K] and E [K, N]: the squared output error ||E^T X||^2 summed over the calibration
 * tokens (scaled like H) that a weight change E causes, computed as sum(E .* (H E)) on tfjs.
 */
export function quadraticForm(h: Float32Array, e: Float32Array, K: number, N: number): number {
  return read(() => {
    const te = tf.tensor2d(e, [K, N]);
    return tf.sum(tf.mul(te, tf.matMul(tf.tensor2d(h, [K, K]), te)));
  })[0]!;
}

/**
 * tr(E_i^T H E_i) for `parts` matrices E_i side by side in E [K, N] (each N / parts columns wide), from
 * one product H E: the output errors of several weight changes at the cost of one.
 */
export function quadraticForms(h: Float32Array, e: Float32Array, K: number, N: number, parts: number): number[] {
  const w = N / parts;
  if (!Number.isInteger(w)) throw new RangeError(`${N} columns do not split into ${parts} equal parts`);
  const s = read(() => {
    const te = tf.tensor2d(e, [K, N]);
    // Column sums of E .* (H E), then summed per part.
    return tf.sum(tf.reshape(tf.sum(tf.mul(te, tf.matMul(tf.tensor2d(h, [K, K]), te)), 0), [parts, w]), 1);
  });
  return Array.from(s);
}
