/**
 * Quantization maths shared by the passes: scales and zero points, round-to-nearest quantization of whole
 * tensors per tensor, per channel (axis) or per block, dequantization, the relative reconstruction error,
 * and 4-bit packing. Pure functions on typed arrays: no graph, no tfjs.
 *
 * The layouts follow ONNX DequantizeLinear (opset 21): a scale per tensor, one per index along `axis`, or
 * one per block of `blockSize` consecutive elements along `axis` (the scale tensor has the weight's shape
 * with that axis shrunk to ceil(n / blockSize); a last block shorter than the others is allowed).
 *
 * Conventions (those of onnxruntime's quantization tools, so our outputs quantize as theirs do):
 * - asymmetric: unsigned codes 0..2^b-1; the range is widened to include 0 so that 0 is exact
 *   (`compute_scale_zp` in onnxruntime/python/tools/quantization/quant_utils.py);
 * - symmetric 8-bit: signed codes in the narrow range -127..127 with zero point 0 (onnxruntime's
 *   `get_qmin_qmax_for_qType(symmetric=True)`; the narrow range also avoids u8s8 overflow in int8 kernels);
 * - symmetric 4-bit: signed codes -8..7, scale = (the value of largest magnitude) / -8, so that extreme maps
 *   exactly to -8 and all 16 levels are used (MLAS `MlasQuantizeBlockwise`, used by onnxruntime's
 *   MatMulNBits quantizer); the scale may then be negative, which dequantization does not mind.
 * Rounding is half to even, as numpy's `round` and ONNX QuantizeLinear do.
 */

import { float16ToFloat32Array } from '../core/float16.js';

/** 1.5 x 2^52: a double this large has no fraction bits left, so adding it rounds away the fraction. */
const ROUNDER = 6755399441055744;

/**
 * Rounds to the nearest integer, ties to even (numpy `round`, ONNX QuantizeLinear), by the float64
 * addition x + 1.5 x 2^52, which rounds half to even in the default rounding mode (exact for |x| < 2^51;
 * larger magnitudes are held at +-1e15, beyond any code, and NaN stays NaN). Seven times faster than
 * Math.round in V8 (5 against 35 ns per value in GPTQ's row loop), with the same results.
 */
export function roundHalfEven(x: number): number {
  const v = x > 1e15 ? 1e15 : x < -1e15 ? -1e15 : x;
  return v + ROUNDER - ROUNDER;
}

/** The integer range of a b-bit code. Signed symmetric 8-bit uses the narrow range -127..127. */
export function quantRange(bits: number, signed: boolean, narrow = false): { qmin: number; qmax: number } {
  if (!Number.isInteger(bits) || bits < 2 || bits > 16) throw new RangeError(`bits must be an integer in 2..16, got ${bits}`);
  if (!signed) return { qmin: 0, qmax: 2 ** bits - 1 };
  const qmax = 2 ** (bits - 1) - 1;
  return { qmin: narrow ? -qmax : -qmax - 1, qmax };
}

/** Scales below float32's smallest normal number mean an all-zero range (as in onnxruntime's compute_scale_zp). */
const TINY = 1.1754944e-38;

/**
 * onnxruntime's `compute_scale_zp`: the affine map of [rmin, rmax] (first widened to contain 0) onto
 * [qmin, qmax]. Symmetric makes the range [-absmax, absmax] (the zero point is then the middle of the
 * code range: 0 for signed codes). A range of (almost) zero width gives scale 1, zero point qmin clamp.
 * The scale is rounded to float32, the precision it is stored in.
 */
export function scaleZeroPoint(rmin: number, rmax: number, qmin: number, qmax: number, symmetric: boolean): { scale: number; zeroPoint: number } {
  let lo = Math.min(rmin, 0);
  let hi = Math.max(rmax, 0);
  if (symmetric) {
    const a = Math.max(Math.abs(lo), Math.abs(hi));
    lo = -a;
    hi = a;
  }
  const scale = Math.fround((hi - lo) / (qmax - qmin));
  if (!(scale > TINY) || !Number.isFinite(scale)) {
    return { scale: 1, zeroPoint: symmetric ? roundHalfEven((qmin + qmax) / 2) + 0 : clamp(0, qmin, qmax) };
  }
  const zeroPoint = symmetric ? roundHalfEven((qmin + qmax) / 2) + 0 : clamp(roundHalfEven(qmin - lo / scale), qmin, qmax);
  return { scale, zeroPoint };
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** Quantizes one value: clamp(round(x / scale) + zeroPoint). */
export function quantizeValue(x: number, scale: number, zeroPoint: number, qmin: number, qmax: number): number {
  return clamp(roundHalfEven(x / scale) + zeroPoint, qmin, qmax);
}

/** Where the scales of a quantized tensor sit (ONNX DequantizeLinear's three layouts). */
export type QuantLayout = { kind: 'tensor' } | { kind: 'axis'; axis: number } | { kind: 'block'; axis: number; blockSize: number };

export interface QuantParams {
  bits: number;
  /** Symmetric: signed codes, no zero point. Asymmetric: unsigned codes with a zero point. */
  symmetric: boolean;
}

/** A quantized tensor in ONNX DequantizeLinear's terms. */
export interface QuantizedTensor {
  dims: number[];
  bits: number;
  /** Signed codes (INT8/INT4) when symmetric, unsigned (UINT8/UINT4) otherwise. */
  signed: boolean;
  layout: QuantLayout;
  /** One integer code per element, row-major in `dims` (a one-byte array where the codes fit one). */
  codes: Int32Array | Int8Array | Uint8Array;
  /** Float32 scales, row-major in `scaleDims`. */
  scales: Float32Array;
  /** Zero points (same shape as scales), or null when they are all 0 (symmetric). */
  zeroPoints: Int32Array | null;
  /** The scale tensor's shape: [] per tensor, [n] per axis, dims with axis shrunk per block. */
  scaleDims: number[];
}

/** Splits dims around an axis: (outer, n, inner) with outer*n*inner elements. */
function around(dims: readonly number[], axis: number): { outer: number; n: number; inner: number } {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= dims[i]!;
  for (let i = axis + 1; i < dims.length; i++) inner *= dims[i]!;
  return { outer, n: dims[axis]!, inner };
}

/** The scale shape of a layout. */
export function scaleShape(dims: readonly number[], layout: QuantLayout): number[] {
  if (layout.kind === 'tensor') return [];
  if (layout.kind === 'axis') return [dims[layout.axis]!];
  const s = dims.slice();
  s[layout.axis] = Math.ceil(dims[layout.axis]! / layout.blockSize);
  return s;
}

/**
 * For each element, the index of its scale. Returned as a function of the flat index, computed with the
 * (outer, n, inner) split so that it costs a few integer operations.
 */
function scaleIndexer(dims: readonly number[], layout: QuantLayout): (flat: number) => number {
  if (layout.kind === 'tensor') return () => 0;
  const { n, inner } = around(dims, layout.axis);
  if (layout.kind === 'axis') return (f) => Math.floor(f / inner) % n;
  const nb = Math.ceil(n / layout.blockSize);
  const b = layout.blockSize;
  return (f) => {
    const i = f % inner;
    const rest = (f - i) / inner;
    const k = rest % n;
    const o = (rest - k) / n;
    return (o * nb + Math.floor(k / b)) * inner + i;
  };
}

function checkLayout(dims: readonly number[], layout: QuantLayout): void {
  if (layout.kind === 'tensor') return;
  if (!Number.isInteger(layout.axis) || layout.axis < 0 || layout.axis >= dims.length) {
    throw new RangeError(`quantization axis ${layout.axis} is out of range for a rank-${dims.length} tensor`);
  }
  if (layout.kind === 'block' && (!Number.isInteger(layout.blockSize) || layout.blockSize < 1)) {
    throw new RangeError(`block size must be a positive integer, got ${layout.blockSize}`);
  }
}

/**
 * Round-to-nearest quantization of a float tensor. Returns the codes, scales and zero points of
 * `layout`; see the file comment for the scale conventions.
 */
export function quantizeTensor(data: ArrayLike<number>, dims: readonly number[], layout: QuantLayout, params: QuantParams): QuantizedTensor {
  checkLayout(dims, layout);
  const size = dims.reduce((a, b) => a * b, 1);
  if (data.length !== size) throw new RangeError(`tensor of shape [${dims.join(',')}] needs ${size} values, got ${data.length}`);
  const { bits, symmetric } = params;
  const sDims = scaleShape(dims, layout);
  const nScales = sDims.reduce((a, b) => a * b, 1);
  const idx = scaleIndexer(dims, layout);
  const lo = new Float64Array(nScales).fill(Infinity);
  const hi = new Float64Array(nScales).fill(-Infinity);
  for (let f = 0; f < size; f++) {
    const v = data[f]!;
    const s = idx(f);
    if (v < lo[s]!) lo[s] = v;
    if (v > hi[s]!) hi[s] = v;
  }
  const scales = new Float32Array(nScales);
  const zps = symmetric ? null : new Int32Array(nScales);
  const { qmin, qmax } = quantRange(bits, symmetric, symmetric && bits === 8);
  for (let s = 0; s < nScales; s++) {
    const mn = Number.isFinite(lo[s]!) ? lo[s]! : 0;
    const mx = Number.isFinite(hi[s]!) ? hi[s]! : 0;
    if (symmetric && bits < 8) {
      // MLAS: the value of largest magnitude maps to qmin exactly (scale negative when it is positive).
      const extreme = Math.abs(mx) > Math.abs(mn) ? mx : mn;
      const scale = Math.fround(extreme / qmin);
      scales[s] = Math.abs(scale) > TINY ? scale : 1;
    } else {
      const { scale, zeroPoint } = scaleZeroPoint(mn, mx, qmin, qmax, symmetric);
      scales[s] = scale;
      if (zps) zps[s] = zeroPoint;
    }
  }
  const codes = new Int32Array(size);
  for (let f = 0; f < size; f++) {
    const s = idx(f);
    codes[f] = quantizeValue(data[f]!, scales[s]!, zps ? zps[s]! : 0, qmin, qmax);
  }
  return { dims: dims.slice(), bits, signed: symmetric, layout, codes, scales, zeroPoints: zps, scaleDims: sDims };
}

/**
 * Quantizes with given scales and zero points (for activations whose range was calibrated, or biases whose
 * scale is input scale x weight scale). `scales`/`zeroPoints` follow `layout` as in quantizeTensor.
 */
export function quantizeWith(
  data: ArrayLike<number>,
  dims: readonly number[],
  layout: QuantLayout,
  scales: Float32Array,
  zeroPoints: Int32Array | null,
  qmin: number,
  qmax: number,
): Int32Array {
  checkLayout(dims, layout);
  const idx = scaleIndexer(dims, layout);
  const out = new Int32Array(data.length);
  for (let f = 0; f < data.length; f++) {
    const s = idx(f);
    out[f] = quantizeValue(data[f]!, scales[s]!, zeroPoints ? zeroPoints[s]! : 0, qmin, qmax);
  }
  return out;
}

/** (code - zeroPoint) * scale for every element, in float32 as onnxruntime computes it. */
export function dequantizeTensor(q: QuantizedTensor): Float32Array {
  const idx = scaleIndexer(q.dims, q.layout);
  const out = new Float32Array(q.codes.length);
  for (let f = 0; f < out.length; f++) {
    const s = idx(f);
    out[f] = Math.fround((q.codes[f]! - (q.zeroPoints ? q.zeroPoints[s]! : 0)) * q.scales[s]!);
  }
  return out;
}

/** Relative reconstruction error ||W - Q||^2 / ||W||^2 (0 for an all-zero W reconstructed exactly). */
export function relativeError(original: ArrayLike<number>, reconstructed: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < original.length; i++) {
    const d = original[i]! - reconstructed[i]!;
    num += d * d;
    den += original[i]! * original[i]!;
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return num / den;
}

/**
 * Packs 4-bit codes two per byte, the first in the low nibble (ONNX INT4/UINT4 storage, MatMulNBits).
 * Signed codes are stored in two's complement; an odd count leaves the last high nibble 0.
 */
export function packNibbles(codes: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(codes.length / 2));
  for (let i = 0; i < codes.length; i++) {
    const v = codes[i]! & 0xf;
    out[i >> 1]! |= i & 1 ? v << 4 : v;
  }
  return out;
}

/** Unpacks `count` 4-bit codes (low nibble first), sign-extending when `signed`. */
export function unpackNibbles(bytes: Uint8Array, count: number, signed: boolean): Int32Array {
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = i & 1 ? bytes[i >> 1]! >> 4 : bytes[i >> 1]! & 0xf;
    out[i] = signed && v >= 8 ? v - 16 : v;
  }
  return out;
}

/** The layout of com.microsoft.MatMulNBits for a weight W of shape [K, N] (onnxruntime ContribOperators.md). */
export interface MatMulNBitsWeights {
  K: number;
  N: number;
  bits: number;
  blockSize: number;
  /** uint8 [N, kBlocks, blockSize * bits / 8]: codes along K, packed low bits first within each block. */
  B: Uint8Array;
  /** float32 [N, kBlocks]. */
  scales: Float32Array;
  /** uint8 [N, ceil(kBlocks * bits / 8)] packed like B, or null for the default 2^(bits-1) (symmetric). */
  zeroPoints: Uint8Array | null;
  kBlocks: number;
}

/**
 * Lays a block-quantized weight (layout block, axis 0 over W[K, N]) out as MatMulNBits wants it: rows of
 * N, unsigned codes (signed codes shifted by 2^(bits-1), the op's default zero point), K padded to a whole
 * number of blocks with the zero point (padding multiplies nothing: A has only K columns).
 */
export function toMatMulNBits(q: QuantizedTensor): MatMulNBitsWeights {
  if (q.dims.length !== 2 || q.layout.kind !== 'block' || q.layout.axis !== 0) {
    throw new RangeError('MatMulNBits needs a [K, N] weight quantized in blocks along axis 0');
  }
  if (q.bits !== 4 && q.bits !== 8) throw new RangeError(`MatMulNBits is written for 4 or 8 bits here, got ${q.bits}`);
  const [K, N] = q.dims as [number, number];
  const bs = q.layout.blockSize;
  const kBlocks = Math.ceil(K / bs);
  const bits = q.bits;
  const offset = q.signed ? 2 ** (bits - 1) : 0;
  const blob = (bs * bits) / 8;
  const B = new Uint8Array(N * kBlocks * blob);
  const scales = new Float32Array(N * kBlocks);
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const zeroPoints = q.zeroPoints ? new Uint8Array(N * zpRow) : null;
  const column = new Int32Array(kBlocks * bs);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const zp = q.zeroPoints ? q.zeroPoints[b * N + n]! : offset;
      scales[n * kBlocks + b] = q.scales[b * N + n]!;
      for (let j = 0; j < bs; j++) {
        const k = b * bs + j;
        column[b * bs + j] = k < K ? q.codes[k * N + n]! + offset : zp;
      }
      if (zeroPoints) {
        if (bits === 8) zeroPoints[n * zpRow + b] = zp;
        else zeroPoints[n * zpRow + (b >> 1)]! |= b & 1 ? (zp & 0xf) << 4 : zp & 0xf;
      }
    }
    const base = n * kBlocks * blob;
    if (bits === 8) {
      for (let i = 0; i < column.length; i++) B[base + i] = column[i]!;
    } else {
      B.set(packNibbles(column), base);
    }
  }
  return { K, N, bits, blockSize: bs, B, scales, zeroPoints, kBlocks };
}

/**
 * Dequantizes MatMulNBits weights back to W[K, N] (the op's definition: (code - zero point) * scale), for
 * tests and error measurement.
 */
export function fromMatMulNBits(w: MatMulNBitsWeights): Float32Array {
  const { K, N, bits, blockSize: bs, kBlocks } = w;
  const blob = (bs * bits) / 8;
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const out = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    const codes = bits === 8 ? w.B.subarray(n * kBlocks * blob, (n + 1) * kBlocks * blob) : unpackNibbles(w.B.subarray(n * kBlocks * blob, (n + 1) * kBlocks * blob), kBlocks * bs, false);
    for (let k = 0; k < K; k++) {
      const b = Math.floor(k / bs);
      let zp = 2 ** (bits - 1);
      if (w.zeroPoints) {
        const byte = w.zeroPoints[n * zpRow + (bits === 8 ? b : b >> 1)]!;
        zp = bits === 8 ? byte : b & 1 ? byte >> 4 : byte & 0xf;
      }
      out[k * N + n] = Math.fround((codes[k]! - zp) * w.scales[n * kBlocks + b]!);
    }
  }
  return out;
}

/** What quantizeToMatMulNBits returns: the op's weights and the relative reconstruction error. */
export interface NBitsResult {
  weights: MatMulNBitsWeights;
  /** ||W - Q||^2 / ||W||^2, as relativeError computes it. */
  error: number;
  /**
   * Where the packed codes went when a pool spilled them to disk (tensor/nbits-pool.ts): `weights.B` is
   * then empty and the codes are the `length` bytes at `offset` of the file at `path`.
   */
  spilled?: { path: string; offset: number; length: number };
}

/** float16 bits -> float32 bits, a table built on first use (the decode of a float16 weight, tile by tile). */
let halfTable: Float32Array | undefined;
function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    const bits = new Uint16Array(65536);
    for (let h = 0; h < 65536; h++) bits[h] = h;
    halfTable = float16ToFloat32Array(bits);
  }
  return halfTable;
}

/**
 * Round-to-nearest quantization of a weight straight into com.microsoft.MatMulNBits' layout, in one pass
 * over the weight and without an intermediate code array: the same codes, scales and zero points as
 * `toMatMulNBits(quantizeTensor(W, [K, N], { kind: 'block', axis: 0, blockSize }, ...))`, bit for bit, at
 * a fraction of the time and memory (what a billion-parameter model needs).
 *
 * `src` holds W [K, N] row-major (a MatMul's B), or W' [N, K] when `transposed` (a Gemm's B with
 * transB = 1, whose blocks along K are then contiguous); float32 values, or float16 / bfloat16 bits
 * (`dataType`), decoded a tile at a time. Blocks run along K; the last one is padded with the zero point.
 */
export function quantizeToMatMulNBits(
  src: Float32Array | Uint16Array,
  dataType: 'float32' | 'float16' | 'bfloat16',
  K: number,
  N: number,
  blockSize: number,
  bits: 4 | 8,
  symmetric: boolean,
  transposed = false,
): NBitsResult {
  if (src.length !== K * N) throw new RangeError(`a [${K}, ${N}] weight needs ${K * N} values, got ${src.length}`);
  if (bits !== 4 && bits !== 8) throw new RangeError(`MatMulNBits is written for 4 or 8 bits here, got ${bits}`);
  const bs = blockSize;
  const kBlocks = Math.ceil(K / bs);
  const blob = (bs * bits) / 8;
  const B = new Uint8Array(N * kBlocks * blob);
  const scales = new Float32Array(N * kBlocks);
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const zeroPoints = symmetric ? null : new Uint8Array(N * zpRow);
  const { qmin, qmax } = quantRange(bits, symmetric, symmetric && bits === 8);
  const offset = symmetric ? 2 ** (bits - 1) : 0;
  const fill = tileFiller(src, dataType, K, N, bs, transposed);
  // One block row of the weight at a time, a chunk of columns at a time, laid out column by column:
  // tile[(n - n0) * bs + j] = W[b * bs + j, n]. A chunk's tile (64 KiB) stays in the core's cache while it
  // is written across and read down (a whole block row's tile did not: 3x slower on a 5632-wide weight).
  const chunk = Math.max(1, Math.min(N, Math.floor(tileElements / bs)));
  const tile = new Float32Array(chunk * bs);
  let num = 0;
  let den = 0;
  for (let b = 0; b < kBlocks; b++) {
    const k0 = b * bs;
    const rows = Math.min(bs, K - k0);
    for (let n0 = 0; n0 < N; n0 += chunk) {
    const n1 = Math.min(N, n0 + chunk);
    fill(tile, k0, rows, n0, n1);
    for (let n = n0; n < n1; n++) {
      const o = (n - n0) * bs;
      let mn = Infinity;
      let mx = -Infinity;
      for (let j = 0; j < rows; j++) {
        const v = tile[o + j]!;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      let scale: number;
      let zp: number;
      if (symmetric && bits < 8) {
        // MLAS: the value of largest magnitude maps to qmin exactly (scale negative when it is positive).
        const extreme = Math.abs(mx) > Math.abs(mn) ? mx : mn;
        const s = Math.fround(extreme / qmin);
        scale = Math.abs(s) > TINY ? s : 1;
        zp = 0;
      } else {
        ({ scale, zeroPoint: zp } = scaleZeroPoint(mn, mx, qmin, qmax, symmetric));
      }
      scales[n * kBlocks + b] = scale;
      const stored = zp + offset;
      const base = (n * kBlocks + b) * blob;
      for (let j = 0; j < bs; j++) {
        let code = stored;
        if (j < rows) {
          const v = tile[o + j]!;
          // roundHalfEven without its clamp to +-1e15 (anything that large is clamped to the codes below).
          let q = v / scale + ROUNDER - ROUNDER + zp;
          q = q < qmin ? qmin : q > qmax ? qmax : q;
          code = q + offset;
          const d = v - Math.fround((q - zp) * scale);
          num += d * d;
          den += v * v;
        }
        if (bits === 8) B[base + j] = code;
        else if (j & 1) B[base + (j >> 1)]! |= (code & 0xf) << 4;
        else B[base + (j >> 1)] = code & 0xf;
      }
      if (zeroPoints) {
        if (bits === 8) zeroPoints[n * zpRow + b] = stored;
        else zeroPoints[n * zpRow + (b >> 1)]! |= b & 1 ? (stored & 0xf) << 4 : stored & 0xf;
      }
    }
    }
  }
  const error = den === 0 ? (num === 0 ? 0 : Infinity) : num / den;
  return { weights: { K, N, bits, blockSize: bs, B, scales, zeroPoints, kBlocks }, error };
}

/** Floats of one tile of quantizeToMatMulNBits (64 KiB: a core's L1/L2 holds it). */
const tileElements = 16384;

/**
 * A function that copies rows k0..k0+rows-1, columns n0..n1-1 of a [K, N] weight (or of a [N, K] one,
 * `transposed`) into a column-major tile [n1 - n0, bs] as float32, one per source type so that each loop
 * stays monomorphic.
 */
function tileFiller(src: Float32Array | Uint16Array, dataType: 'float32' | 'float16' | 'bfloat16', K: number, N: number, bs: number, transposed: boolean): (tile: Float32Array, k0: number, rows: number, n0: number, n1: number) => void {
  if (dataType === 'float32') {
    const s = src as Float32Array;
    return transposed
      ? (tile, k0, rows, n0, n1) => {
          for (let n = n0; n < n1; n++) tile.set(s.subarray(n * K + k0, n * K + k0 + rows), (n - n0) * bs);
        }
      : (tile, k0, rows, n0, n1) => {
          for (let j = 0; j < rows; j++) {
            const s0 = (k0 + j) * N;
            for (let n = n0, t = j; n < n1; n++, t += bs) tile[t] = s[s0 + n]!;
          }
        };
  }
  // float16 through a table of all 65536 values; bfloat16 is the top half of a float32's bits.
  const table = dataType === 'float16' ? halfToFloatTable() : undefined;
  const h = src as Uint16Array;
  if (table) {
    return transposed
      ? (tile, k0, rows, n0, n1) => {
          for (let n = n0; n < n1; n++) {
            const s0 = n * K + k0;
            const o = (n - n0) * bs;
            for (let j = 0; j < rows; j++) tile[o + j] = table[h[s0 + j]!]!;
          }
        }
      : (tile, k0, rows, n0, n1) => {
          for (let j = 0; j < rows; j++) {
            const s0 = (k0 + j) * N;
            for (let n = n0, t = j; n < n1; n++, t += bs) tile[t] = table[h[s0 + n]!]!;
          }
        };
  }
  const tileBits = (tile: Float32Array) => new Uint32Array(tile.buffer, tile.byteOffset, tile.length);
  return transposed
    ? (tile, k0, rows, n0, n1) => {
        const u = tileBits(tile);
        for (let n = n0; n < n1; n++) {
          const s0 = n * K + k0;
          const o = (n - n0) * bs;
          for (let j = 0; j < rows; j++) u[o + j] = h[s0 + j]! << 16;
        }
      }
    : (tile, k0, rows, n0, n1) => {
        const u = tileBits(tile);
        for (let j = 0; j < rows; j++) {
          const s0 = (k0 + j) * N;
          for (let n = n0, t = j; n < n1; n++, t += bs) u[t] = h[s0 + n]! << 16;
        }
      };
}
