/**
 * GPTQ's solver (Frantar, Ashkboos, Hoefler, Alistarh 2022, "GPTQ: Accurate Post-Training Quantization
 * for Generative Pre-trained Transformers", arXiv 2210.17323, Algorithm 1), apart from any graph: given a
 * weight W [K, N] (K inputs, N outputs, as MatMul stores it) and the Hessian H = 2 X^T X / n of its
 * inputs, quantize W one input row at a time, each time spreading the rounding error over the rows not yet
 * quantized so that ||W X - Q X||^2 stays small (Optimal Brain Quantization with a fixed order).
 *
 * Steps, as llm-compressor's `modifiers/gptq/gptq_quantize.py` does them:
 * - dead inputs (H_kk = 0: an input that is always zero) get H_kk = 1 and their weights zeroed;
 * - act-order (optional): rows in order of decreasing H_kk, the inputs with the largest activations first;
 *   quantization groups keep the original order ("static groups": the scales of each group are found from
 *   the original weights up front), so the output needs no g_idx and the usual formats hold it;
 * - dampening: H + lambda I with lambda = damp * mean(diag H); a Hessian that is still not positive
 *   definite gets lambda x10, up to three times, before a NumericsError naming the layer;
 * - the error propagation from a Cholesky factor of H itself, not of H^-1 (see below);
 * - blocks of `blockSize` rows: each block gets the errors of all the rows before it in one matmul
 *   (tfjs): the "lazy batch updates" of section 4 that make the algorithm memory-bound rather than
 *   compute-bound; inside a block, 32-row sub-blocks pass theirs on the same way, and inside a sub-block
 *   each row catches up on the rows before it in one JS pass just before it is rounded.
 *
 * The paper propagates with U, the upper Cholesky factor of H^-1 (U^T U = H^-1): row k's scaled error
 * Err_k = (w'_k - q_k) / U_kk is subtracted as W'[j] -= U_kj Err_k from every later row j. Summing those
 * updates, D = W - Q (original weights minus codes) is U^T Err, so Err = R^T D with R = U^-1, the upper
 * triangular factor with R R^T = H; and the row that row j quantizes is
 *   w'_j = w_j + sum_{i<j} (R_ij / R_jj) (w_i - q_i),
 * the original row plus the rounding differences of the rows before it. The same algorithm, but it needs
 * only the Cholesky factor R of H (a third of the arithmetic of factoring, inverting and factoring again,
 * half of the reversed-order trick's factor and inverse), and each update is a product with the fixed
 * differences D rather than with a running error. Only the intermediate rows differ: dynamic groups fit
 * their scales on the paper's partially updated rows, recovered by paperRows.
 * The quality measure is the layer's relative output error ||W X - Q X||^2 / ||W X||^2 = tr(E^T H E) /
 * tr(W^T H W) with E = W - Q, computed from H; `rtnQuantize` gives round-to-nearest on the same grid for
 * comparison.
 *
 * Grids follow src/tensor/quant.ts (onnxruntime's conventions): asymmetric unsigned codes with a zero point
 * and a range that contains 0; symmetric signed codes with scale = (value of largest magnitude) / qmin
 * below 8 bits (MLAS), narrow range -127..127 at 8 bits. 2- and 3-bit codes use the low part of a 4-bit
 * container.
 */
import { NumericsError } from '../../core/errors.js';
import { addProduct, lowerTriangularInverse, matmul, NotPositiveDefiniteError, quadraticForm, quadraticForms, reversedCholesky, subMatrix } from '../../tensor/linalg.js';
import { quantRange, roundHalfEven, scaleZeroPoint, type QuantizedTensor } from '../../tensor/quant.js';

/** The grid and algorithm settings of one layer. */
export interface GptqParams {
  bits: number;
  symmetric: boolean;
  /** Rows (inputs) per scale; -1 or >= K: one scale per output channel. */
  groupSize: number;
  actOrder: boolean;
  damp: number;
  blockSize: number;
}

/** A quantized layer: codes and scales in [K, N] order, its dequantized weights and errors. */
export interface GptqResult {
  /**
   * Codes [K, N] in a `container`-bit type (bits 2 and 3 in 4), block layout along axis 0 with
   * `groupSize` rows per scale (K rows when per channel), scales [ceil(K / g), N].
   */
  q: QuantizedTensor;
  /** The weights Q the codes stand for, [K, N] (what the compressed model computes with). */
  dequantized: Float32Array;
  /** ||W X - Q X||^2 / ||W X||^2 of GPTQ, and of round-to-nearest on the same grid. */
  error: number;
  rtnError: number;
  /** The dampening fraction that made H positive definite (damp, or damp x 10^k). */
  damp: number;
  /** Inputs whose activations were always zero (their weights were zeroed). */
  deadInputs: number;
}

/** The 4- or 8-bit type that stores codes of `bits` bits. */
export function containerBits(bits: number): 4 | 8 {
  return bits <= 4 ? 4 : 8;
}

/** Integer range of the codes and whether 8-bit symmetric uses the narrow range. */
function gridRange(bits: number, symmetric: boolean): { qmin: number; qmax: number } {
  return quantRange(bits, symmetric, symmetric && bits === 8);
}

const TINY = 1.1754944e-38;

/** Scale and zero point of one (group, channel) from the range of its values (see the file comment). */
export function gridParams(lo: number, hi: number, bits: number, symmetric: boolean): { scale: number; zeroPoint: number } {
  const { qmin, qmax } = gridRange(bits, symmetric);
  if (symmetric && bits < 8) {
    const extreme = Math.abs(hi) > Math.abs(lo) ? hi : lo;
    const scale = Math.fround(extreme / qmin);
    return { scale: Math.abs(scale) > TINY ? scale : 1, zeroPoint: 0 };
  }
  return scaleZeroPoint(lo, hi, qmin, qmax, symmetric);
}

/** The quantization grid of a whole [K, N] weight: scale and zero point per (group, channel). */
interface Grid {
  g: number;
  groups: number;
  scales: Float32Array;
  zeroPoints: Int32Array;
  qmin: number;
  qmax: number;
}

function emptyGrid(K: number, N: number, p: GptqParams): Grid {
  const g = p.groupSize === -1 || p.groupSize >= K ? K : p.groupSize;
  const groups = Math.ceil(K / g);
  const { qmin, qmax } = gridRange(p.bits, p.symmetric);
  return { g, groups, scales: new Float32Array(groups * N), zeroPoints: new Int32Array(groups * N), qmin, qmax };
}

/** Fits the grid of group `grp` to the rows `rows` of `w` (row-major, N columns). */
function fitGroup(grid: Grid, grp: number, w: Float32Array, N: number, rows: ArrayLike<number>, p: GptqParams): void {
  // Row by row (contiguous reads), a running range per column.
  const lo = new Float32Array(N).fill(Infinity);
  const hi = new Float32Array(N).fill(-Infinity);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]! * N;
    for (let n = 0; n < N; n++) {
      const v = w[r + n]!;
      if (v < lo[n]!) lo[n] = v;
      if (v > hi[n]!) hi[n] = v;
    }
  }
  for (let n = 0; n < N; n++) {
    const { scale, zeroPoint } = gridParams(Number.isFinite(lo[n]!) ? lo[n]! : 0, Number.isFinite(hi[n]!) ? hi[n]! : 0, p.bits, p.symmetric);
    grid.scales[grp * N + n] = scale;
    grid.zeroPoints[grp * N + n] = zeroPoint;
  }
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}

/** Fits every group of the grid to `w` in its original row order (static groups, per channel, RTN). */
function fitAll(grid: Grid, w: Float32Array, K: number, N: number, p: GptqParams): void {
  for (let grp = 0; grp < grid.groups; grp++) fitGroup(grid, grp, w, N, range(grp * grid.g, Math.min(K, (grp + 1) * grid.g)), p);
}

function toQuantized(grid: Grid, codes: Int32Array, K: number, N: number, p: GptqParams): QuantizedTensor {
  return {
    dims: [K, N],
    bits: containerBits(p.bits),
    signed: p.symmetric,
    layout: { kind: 'block', axis: 0, blockSize: grid.g },
    codes,
    scales: grid.scales,
    zeroPoints: p.symmetric ? null : grid.zeroPoints,
    scaleDims: [grid.groups, N],
  };
}

/** Relative output error tr(E^T H E) / tr(W^T H W) of replacing W by Q (0 for W X = 0 reproduced). */
export function reconstructionError(w: Float32Array, q: Float32Array, h: Float32Array, K: number, N: number): number {
  const e = new Float32Array(w.length);
  for (let i = 0; i < e.length; i++) e[i] = w[i]! - q[i]!;
  const num = quadraticForm(h, e, K, N);
  const den = quadraticForm(h, w, K, N);
  if (den <= 0) return num <= 0 ? 0 : Infinity;
  return Math.max(0, num) / den;
}

/** Round-to-nearest on GPTQ's grid: codes from the original weights, no error feedback. */
export function rtnQuantize(w: Float32Array, K: number, N: number, p: GptqParams): { q: QuantizedTensor; dequantized: Float32Array } {
  const grid = emptyGrid(K, N, p);
  fitAll(grid, w, K, N, p);
  const codes = new Int32Array(K * N);
  const deq = new Float32Array(K * N);
  for (let k = 0; k < K; k++) {
    const base = Math.floor(k / grid.g) * N;
    for (let n = 0; n < N; n++) {
      const s = grid.scales[base + n]!;
      const z = grid.zeroPoints[base + n]!;
      const c = Math.min(grid.qmax, Math.max(grid.qmin, roundHalfEven(w[k * N + n]! / s) + z));
      codes[k * N + n] = c;
      deq[k * N + n] = Math.fround((c - z) * s);
    }
  }
  return { q: toQuantized(grid, codes, K, N, p), dequantized: deq };
}

/**
 * Dampens H in place and returns the propagation coefficients of (H + lambda I), raising damp x10 on
 * failure: C [K, K] lower triangular with C_ji = R_ij / R_jj for i < j, where R is upper triangular with
 * R R^T = H + lambda I (see the file comment). Row j of C weighs the rounding differences of the rows
 * before j, so a block of rows reads a contiguous slice of it.
 */
function dampedFactor(h: Float32Array, K: number, damp: number, layer: string): { c: Float32Array; damp: number } {
  let mean = 0;
  for (let k = 0; k < K; k++) mean += h[k * K + k]!;
  mean /= K;
  let d = damp;
  let applied = 0;
  for (let attempt = 0; attempt < 4; attempt++) {
    const lambda = d * mean;
    for (let k = 0; k < K; k++) h[k * K + k]! += lambda - applied;
    applied = lambda;
    try {
      return { c: coefficients(reversedCholesky(h, K), K), damp: d };
    } catch (e) {
      if (!(e instanceof NotPositiveDefiniteError)) throw e;
      d *= 10;
    }
  }
  throw new NumericsError(
    `GPTQ: the Hessian of layer '${layer}' is not positive definite even with dampening ${d / 10} (x mean diagonal)`,
    `give more calibration samples (--samples), raise --damp, or keep the layer in float with --exclude '${layer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`,
  );
}

/**
 * C_ji = R_ij / R_jj for i < j (0 on and above the diagonal) from an upper-triangular R: a transpose,
 * done in 64 x 64 tiles so that both sides are read and written along rows.
 */
function coefficients(r: Float32Array, K: number): Float32Array {
  const c = new Float32Array(K * K);
  const T = 64;
  for (let i0 = 0; i0 < K; i0 += T) {
    for (let j0 = i0; j0 < K; j0 += T) {
      const i1 = Math.min(K, i0 + T);
      const j1 = Math.min(K, j0 + T);
      for (let i = i0; i < i1; i++) {
        for (let j = Math.max(j0, i + 1); j < j1; j++) c[j * K + i] = r[i * K + j]! / r[j * K + j]!;
      }
    }
  }
  return c;
}

/**
 * What GPTQ needs of a layer input's Hessian, computed once for every layer that reads the input (q, k
 * and v projections share it): the processing order, the dead inputs, and the propagation coefficients
 * C of H + lambda I (rows and columns in processing order; see dampedFactor).
 */
export interface GptqFactor {
  K: number;
  /** [K, K] lower triangular: row j weighs the rounding differences w_i - q_i of the rows i < j. */
  c: Float32Array;
  /** Processing order (act-order: by decreasing H_kk), or null for the stored order. */
  perm: Int32Array | null;
  /** 1 for an input whose activations were always zero (H_kk = 0), by stored index. */
  dead: Uint8Array;
  deadInputs: number;
  /** The dampening fraction that made H positive definite (damp, or damp x 10^k). */
  damp: number;
}

/**
 * The factor of one layer input's Hessian H = 2 X^T X / n ([K, K], not modified): dead inputs get
 * H_kk = 1, act-order permutes, dampening is added, and U is computed (see the file comment). Throws
 * NumericsError naming `layer` when H cannot be made positive definite.
 */
export function gptqFactor(h0: Float32Array, K: number, p: Pick<GptqParams, 'actOrder' | 'damp'>, layer = 'layer'): GptqFactor {
  if (h0.length !== K * K) throw new RangeError(`GPTQ on '${layer}': H has ${h0.length} values for [${K}, ${K}]`);
  let h = h0.slice();
  // Dead inputs: nothing ever reaches them, so their weights can be anything; zero is cheapest to store.
  const dead = new Uint8Array(K);
  let deadInputs = 0;
  for (let k = 0; k < K; k++) {
    if (h[k * K + k] === 0) {
      h[k * K + k] = 1;
      dead[k] = 1;
      deadInputs++;
    }
  }
  // Act-order: process rows by decreasing H_kk (stable, so ties keep their order).
  let perm: Int32Array | null = null;
  if (p.actOrder) {
    perm = Int32Array.from(range(0, K).sort((a, b) => h[b * K + b]! - h[a * K + a]! || a - b));
    const hp = new Float32Array(K * K);
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) hp[i * K + j] = h[perm[i]! * K + perm[j]!]!;
    h = hp;
  }
  const { c, damp } = dampedFactor(h, K, p.damp, layer);
  return { K, c, perm, dead, deadInputs, damp };
}

/**
 * Rows [s, s + g) as the paper's algorithm has them once the rows before s are quantized (what dynamic
 * groups fit their scales to), from the rows as this solve has them then. The paper's right-looking
 * updates leave row j at w_j - sum_{k<s} U_kj Err_k; here it is w_j + sum_{i<s} C_ji D_i. Both reach the
 * same value by the time row j is quantized, but not at s: with G = [s, s + g) and R R^T = H, the paper's
 * rows are w_G + R_GG^-T R_SG^T D_S (S = the rows before s; U_SG = -R_SS^-1 R_SG R_GG^-1, Err_S =
 * R_SS^T D_S), and I + C_GG = diag(R_GG)^-1 R_GG^T, so they are w_G + (I + C_GG)^-1 (w'_G - w_G): one
 * small triangular inverse and one [g, g] x [g, N] product per group. Returns the g rows (row-major).
 */
function paperRows(w: Float32Array, w0: Float32Array, coef: Float32Array, K: number, N: number, s: number, g: number): Float32Array {
  const t = subMatrix(coef, K, s, g, s, g);
  for (let i = 0; i < g; i++) t[i * g + i] = 1;
  const delta = new Float32Array(g * N);
  for (let i = 0; i < g * N; i++) delta[i] = w[s * N + i]! - w0[s * N + i]!;
  const z = matmul(lowerTriangularInverse(t, g), g, g, delta, g, N);
  for (let i = 0; i < g * N; i++) z[i] = w0[s * N + i]! + z[i]!;
  return z;
}

/**
 * Rounds row `row` of w to the grid of scales/zero points at `sBase` (codes, dequantized values) and
 * records its difference from the original row w0. A function of its own so that V8 optimizes the loop
 * (inlined in gptqSolve's body it ran several times slower).
 */
function quantizeRow(w: Float32Array, w0: Float32Array, scales: Float32Array, zeroPoints: Int32Array, qmin: number, qmax: number, row: number, sBase: number, N: number, codes: Int32Array, deq: Float32Array, diff: Float32Array): void {
  for (let n = 0; n < N; n++) {
    const s = scales[sBase + n]!;
    const z = zeroPoints[sBase + n]!;
    let c = roundHalfEven(w[row + n]! / s) + z;
    c = c < qmin ? qmin : c > qmax ? qmax : c;
    const qv = Math.fround((c - z) * s);
    codes[row + n] = c;
    deq[row + n] = qv;
    diff[row + n] = w0[row + n]! - qv;
  }
}

/**
 * w[r] += sum_{e0 <= i < e1} C[r, i] D[i] over rows of N values, four differences at a time (one pass
 * over w[r] per four rows of D; the sums are taken in float64 and rounded once per pass).
 */
function catchUpRow(w: Float32Array, d: Float32Array, coef: Float32Array, K: number, N: number, r: number, e0: number, e1: number): void {
  const wr = r * N;
  const cr = r * K;
  let i = e0;
  for (; i + 4 <= e1; i += 4) {
    const c0 = coef[cr + i]!;
    const c1 = coef[cr + i + 1]!;
    const c2 = coef[cr + i + 2]!;
    const c3 = coef[cr + i + 3]!;
    const d0 = i * N;
    const d1 = d0 + N;
    const d2 = d1 + N;
    const d3 = d2 + N;
    for (let n = 0; n < N; n++) w[wr + n] = w[wr + n]! + c0 * d[d0 + n]! + c1 * d[d1 + n]! + c2 * d[d2 + n]! + c3 * d[d3 + n]!;
  }
  for (; i < e1; i++) {
    const c = coef[cr + i]!;
    const di = i * N;
    for (let n = 0; n < N; n++) w[wr + n] = w[wr + n]! + c * d[di + n]!;
  }
}

/**
 * GPTQ on a [K, N] weight (row-major, K inputs; any subset of a layer's output columns: columns are
 * independent given the factor) with the factor of its input's Hessian. `w0` is not modified. Returns
 * the codes and grid in the stored row order and the dequantized weights Q.
 *
 * Rows are taken in blocks of `blockSize` in processing order. Each block first receives, in one tfjs
 * product, the rounding differences of every row quantized before it (W[i1:i2] += C[i1:i2, :i1] D[:i1]:
 * the "lazy batch updates" of the paper, left-looking, so that only the block's rows come back from
 * tfjs); inside the block, each finished 32-row sub-block's differences reach the block's later rows in
 * one more product, and each row receives those of its own sub-block's earlier rows in JS (catchUpRow)
 * just before it is rounded. Equals the unblocked float64 algorithm up to float32 rounding (tested).
 */
export function gptqSolve(w0: Float32Array, K: number, N: number, f: GptqFactor, p: GptqParams): { q: QuantizedTensor; dequantized: Float32Array } {
  if (w0.length !== K * N || f.K !== K) throw new RangeError(`GPTQ: W has ${w0.length} values for [${K}, ${N}], the factor is for K = ${f.K}`);
  const { c: coef, perm, dead } = f;
  // W in processing order, dead rows zeroed.
  const w = new Float32Array(K * N);
  for (let k = 0; k < K; k++) {
    const src = perm ? perm[k]! : k;
    if (!dead[src]) w.set(w0.subarray(src * N, (src + 1) * N), k * N);
  }
  const grid = emptyGrid(K, N, p);
  const staticGroups = p.actOrder || grid.g === K;
  if (staticGroups) {
    // Scales from the original weights (dead rows zeroed), in the stored order.
    const stored = perm ? new Float32Array(K * N) : w;
    if (perm) for (let k = 0; k < K; k++) stored.set(w.subarray(k * N, (k + 1) * N), perm[k]! * N);
    fitAll(grid, stored, K, N, p);
  }
  const codes = new Int32Array(K * N);
  const deq = new Float32Array(K * N);
  // D[k] = w_k - q_k, the rounding difference of each row quantized so far against its original weights
  // (processing order); w holds the rows as updated.
  const w0p = w.slice();
  const diff = new Float32Array(K * N);
  // With groups fitted as they come (no act-order), a group must start on a block boundary or inside a
  // block that holds all of it, so that its rows can carry every earlier difference when its scales are
  // chosen; a group longer than a block gets those differences, for all its rows, when it starts.
  let B = Math.max(1, p.blockSize);
  if (!staticGroups && B % grid.g !== 0 && grid.g % B !== 0) B = B > grid.g ? Math.floor(B / grid.g) * grid.g : grid.g;
  // upto[r]: row r has received the differences of rows [0, upto[r]).
  const upto = new Int32Array(K);
  /** Rows [r0, r1), all at the same upto, receive the differences up to row e: one tfjs product. */
  const update = (r0: number, r1: number, e: number) => {
    const e0 = upto[r0]!;
    if (e <= e0 || r1 <= r0) return;
    const cb = subMatrix(coef, K, r0, r1 - r0, e0, e - e0);
    w.set(addProduct(w.subarray(r0 * N, r1 * N), r1 - r0, cb, e - e0, diff.subarray(e0 * N, e * N), N), r0 * N);
    upto.fill(e, r0, r1);
  };
  /** Row r receives the differences up to row e in JS (inside a block: at most B rows). */
  const catchUp = (r: number, e: number) => {
    catchUpRow(w, diff, coef, K, N, r, upto[r]!, e);
    upto[r] = e;
  };
  // Sub-blocks of b rows: a finished sub-block's differences reach the rest of its block in one tfjs
  // product, so that the JS catch-up spans at most b rows. A group fitted as it comes starts on one.
  let b = Math.min(32, B);
  if (!staticGroups) while (grid.g % b !== 0) b--;
  const { scales, zeroPoints, qmin, qmax } = grid;
  for (let i1 = 0; i1 < K; i1 += B) {
    const i2 = Math.min(i1 + B, K);
    if (!staticGroups && grid.g > B && i1 % grid.g === 0) {
      // A group longer than a block starts: all its rows get the differences so far.
      update(i1, Math.min(K, i1 + grid.g), i1);
    }
    update(i1, i2, i1);
    for (let k = i1; k < i2; k++) {
      const orig = perm ? perm[k]! : k;
      const grp = Math.floor(orig / grid.g);
      // Dynamic groups (no act-order): the scales of a group come from its rows as updated so far.
      if (!staticGroups && orig % grid.g === 0) {
        const rows = Math.min(K, k + grid.g) - k;
        if (k > 0) for (let r = k; r < Math.min(k + rows, i2); r++) catchUp(r, k);
        fitGroup(grid, grp, k === 0 ? w : paperRows(w, w0p, coef, K, N, k, rows), N, range(0, rows), p);
      }
      catchUp(k, k);
      const row = k * N;
      quantizeRow(w, w0p, scales, zeroPoints, qmin, qmax, row, grp * N, N, codes, deq, diff);
      if ((k + 1 - i1) % b === 0) update(k + 1, i2, k + 1);
    }
  }
  // Back to the stored row order.
  let outCodes = codes;
  let outDeq = deq;
  if (perm) {
    outCodes = new Int32Array(K * N);
    outDeq = new Float32Array(K * N);
    for (let k = 0; k < K; k++) {
      outCodes.set(codes.subarray(k * N, (k + 1) * N), perm[k]! * N);
      outDeq.set(deq.subarray(k * N, (k + 1) * N), perm[k]! * N);
    }
  }
  return { q: toQuantized(grid, outCodes, K, N, p), dequantized: outDeq };
}

/**
 * The output errors behind the relative errors of GPTQ's Q and of round-to-nearest on the same grid, on
 * the columns `cols` of W [K, N]: tr(W^T H W), tr(E^T H E) and tr(E_rtn^T H E_rtn) over those columns,
 * from one tfjs product. Each output channel's error is its own, so a pass measures a wide layer on a
 * sample of its channels and divides the sums.
 */
export function errorSums(w0: Float32Array, q: Float32Array, h: Float32Array, K: number, N: number, cols: readonly number[], p: GptqParams): { den: number; gptq: number; rtn: number } {
  const n = cols.length;
  const ws = new Float32Array(K * n);
  for (let k = 0; k < K; k++) for (let j = 0; j < n; j++) ws[k * n + j] = w0[k * N + cols[j]!]!;
  // RTN's scales are per (group, column): those of the chosen columns alone are the same.
  const rtn = rtnQuantize(ws, K, n, p).dequantized;
  // [W | W - Q | W - RTN(W)] on the chosen columns.
  const m = new Float32Array(K * 3 * n);
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < n; j++) {
      const x = ws[k * n + j]!;
      m[k * 3 * n + j] = x;
      m[k * 3 * n + n + j] = x - q[k * N + cols[j]!]!;
      m[k * 3 * n + 2 * n + j] = x - rtn[k * n + j]!;
    }
  }
  const [den, gptq, r] = quadraticForms(h, m, K, 3 * n, 3);
  return { den: den!, gptq: gptq!, rtn: r! };
}

/** Output channels the errors are measured on: every channel up to this many, else this many spread evenly. */
export const errorChannels = 256;

/**
 * The relative output errors tr(E^T H E) / tr(W^T H W) of GPTQ's Q and of round-to-nearest on the same
 * grid, for W [K, N] and H, measured on at most `errorChannels` output channels spread evenly (each
 * channel's error is its own, so this samples the layer's), which keeps the cost at K^2 x 256 whatever
 * N is. Returns the channels measured.
 */
export function layerErrors(w0: Float32Array, q: Float32Array, h: Float32Array, K: number, N: number, p: GptqParams): { error: number; rtnError: number; channels: number } {
  const n = Math.min(N, errorChannels);
  const cols = Array.from({ length: n }, (_, i) => Math.floor((i * N) / n));
  const s = errorSums(w0, q, h, K, N, cols, p);
  const ratio = (num: number) => (s.den <= 0 ? (num <= 0 ? 0 : Infinity) : Math.max(0, num) / s.den);
  return { error: ratio(s.gptq), rtnError: ratio(s.rtn), channels: n };
}

/**
 * GPTQ on one layer: W [K, N] row-major (K inputs), H [K, K] = 2 X^T X / n. Neither input is modified.
 * `layer` names the layer in errors. (gptqFactor + gptqSolve + layerErrors in one call.)
 */
export function gptqQuantize(w0: Float32Array, K: number, N: number, h0: Float32Array, p: GptqParams, layer = 'layer'): GptqResult {
  if (w0.length !== K * N || h0.length !== K * K) throw new RangeError(`GPTQ on '${layer}': W has ${w0.length} values for [${K}, ${N}], H ${h0.length} for [${K}, ${K}]`);
  const f = gptqFactor(h0, K, p, layer);
  const { q, dequantized } = gptqSolve(w0, K, N, f, p);
  const { error, rtnError } = layerErrors(w0, dequantized, h0, K, N, p);
  return { q, dequantized, error, rtnError, damp: f.damp, deadInputs: f.deadInputs };
}
