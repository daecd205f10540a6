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
 * - U = the upper Cholesky factor of H^-1, whose rows carry the error-propagation coefficients;
 * - blocks of `blockSize` rows: inside a block the updates are rank-1 row updates (JS loops), and the rows
 *   below get the block's accumulated error in one matmul, W[i2:] -= U[i1:i2, i2:]^T Err (tfjs): the
 *   "lazy batch updates" of section 4 that make the algorithm memory-bound rather than compute-bound.
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
import { inverseUpperCholesky, matmul, NotPositiveDefiniteError, quadraticForm, subMatrix } from '../../tensor/linalg.js';
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

/** Fits the grid of group `grp` to rows [r0, r1) of `w` (rows in the order stored). */
function fitGroup(grid: Grid, grp: number, w: Float32Array, N: number, rows: ArrayLike<number>, p: GptqParams): void {
  for (let n = 0; n < N; n++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < rows.length; i++) {
      const v = w[rows[i]! * N + n]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const { scale, zeroPoint } = gridParams(Number.isFinite(lo) ? lo : 0, Number.isFinite(hi) ? hi : 0, p.bits, p.symmetric);
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

/** Dampens H in place and returns U with U^T U = (H + lambda I)^-1, raising damp x10 on failure. */
function dampedInverseFactor(h: Float32Array, K: number, damp: number, layer: string): { u: Float32Array; damp: number } {
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
      return { u: inverseUpperCholesky(h, K), damp: d };
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
 * GPTQ on one layer: W [K, N] row-major (K inputs), H [K, K] = 2 X^T X / n. Neither input is modified.
 * `layer` names the layer in errors.
 */
export function gptqQuantize(w0: Float32Array, K: number, N: number, h0: Float32Array, p: GptqParams, layer = 'layer'): GptqResult {
  if (w0.length !== K * N || h0.length !== K * K) throw new RangeError(`GPTQ on '${layer}': W has ${w0.length} values for [${K}, ${N}], H ${h0.length} for [${K}, ${K}]`);
  const w = w0.slice();
  let h = h0.slice();
  // Dead inputs: nothing ever reaches them, so their weights can be anything; zero is cheapest to store.
  let deadInputs = 0;
  for (let k = 0; k < K; k++) {
    if (h[k * K + k] === 0) {
      h[k * K + k] = 1;
      w.fill(0, k * N, (k + 1) * N);
      deadInputs++;
    }
  }
  const grid = emptyGrid(K, N, p);
  const staticGroups = p.actOrder || grid.g === K;
  if (staticGroups) fitAll(grid, w, K, N, p);
  // Act-order: process rows by decreasing H_kk (stable, so ties keep their order).
  let perm: Int32Array | null = null;
  if (p.actOrder) {
    const idx = range(0, K).sort((a, b) => h[b * K + b]! - h[a * K + a]! || a - b);
    perm = Int32Array.from(idx);
    const wp = new Float32Array(K * N);
    for (let k = 0; k < K; k++) wp.set(w.subarray(perm[k]! * N, (perm[k]! + 1) * N), k * N);
    w.set(wp);
    const hp = new Float32Array(K * K);
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) hp[i * K + j] = h[perm[i]! * K + perm[j]!]!;
    h = hp;
  }
  const { u, damp } = dampedInverseFactor(h, K, p.damp, layer);

  const codes = new Int32Array(K * N);
  const deq = new Float32Array(K * N);
  // With groups fitted as they come (no act-order), a group must start on a block boundary, so that its
  // rows below the block already carry every earlier update when its scales are chosen.
  let B = Math.max(1, p.blockSize);
  if (!staticGroups && B % grid.g !== 0 && grid.g % B !== 0) B = B > grid.g ? Math.floor(B / grid.g) * grid.g : grid.g;
  for (let i1 = 0; i1 < K; i1 += B) {
    const i2 = Math.min(i1 + B, K);
    const err = new Float32Array((i2 - i1) * N);
    for (let k = i1; k < i2; k++) {
      const orig = perm ? perm[k]! : k;
      const grp = Math.floor(orig / grid.g);
      // Dynamic groups (no act-order): the scales of a group come from its rows as updated so far.
      if (!staticGroups && orig % grid.g === 0) fitGroup(grid, grp, w, N, range(k, Math.min(K, k + grid.g)), p);
      const d = u[k * K + k]!;
      const row = k * N;
      const er = (k - i1) * N;
      for (let n = 0; n < N; n++) {
        const s = grid.scales[grp * N + n]!;
        const z = grid.zeroPoints[grp * N + n]!;
        const x = w[row + n]!;
        const c = Math.min(grid.qmax, Math.max(grid.qmin, roundHalfEven(x / s) + z));
        const qv = Math.fround((c - z) * s);
        codes[row + n] = c;
        deq[row + n] = qv;
        err[er + n] = (x - qv) / d;
      }
      // Spread this row's error over the block's remaining rows: W[k2] -= U[k, k2] * err_k.
      for (let k2 = k + 1; k2 < i2; k2++) {
        const c = u[k * K + k2]!;
        if (c === 0) continue;
        const r2 = k2 * N;
        for (let n = 0; n < N; n++) w[r2 + n]! -= c * err[er + n]!;
      }
    }
    // Lazy batch update of every row after the block: W[i2:] -= U[i1:i2, i2:]^T Err.
    if (i2 < K) {
      const ub = subMatrix(u, K, i1, i2 - i1, i2, K - i2);
      const delta = matmul(ub, i2 - i1, K - i2, err, i2 - i1, N, true, false);
      const base = i2 * N;
      for (let i = 0; i < delta.length; i++) w[base + i]! -= delta[i]!;
    }
  }
  // Back to the original row order.
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
  const rtn = rtnQuantize(w0, K, N, p);
  return {
    q: toQuantized(grid, outCodes, K, N, p),
    dequantized: outDeq,
    error: reconstructionError(w0, outDeq, h0, K, N),
    rtnError: reconstructionError(w0, rtn.dequantized, h0, K, N),
    damp,
    deadInputs,
  };
}
