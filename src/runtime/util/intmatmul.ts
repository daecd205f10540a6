/**
 * Exact integer matrix products and convolutions on float32 kernels.
 *
 * tfjs has no int32 matmul on the wasm backend, and quantized ops (MatMulInteger, ConvInteger,
 * QLinearMatMul, QLinearConv) need int32 accumulators that are exact, as onnxruntime's are. A float32
 * sum of integer products is exact as long as every partial sum stays within 2^24 (all integers up to
 * 2^24 are representable, so no addition or fused multiply-add ever rounds, whatever the summation
 * order). With |a| <= A and |b| <= B that holds for up to floor(2^24 / (A * B)) terms: 258 for
 * zero-point-shifted 8-bit operands (|q - zp| <= 255). Longer reductions are split into chunks of that
 * length, each chunk's float32 result converted to int32 exactly and the chunks summed in int32.
 *
 * Many short chunks are slow (each slices both operands and runs a skinny product), so when that would
 * take more than twice as many products, one operand is first split into digits of base 16,
 * a = 16 * hi + lo with lo in [0, 15] and |hi| <= ceil(|a| / 16): each digit's product then has a bound 16
 * times smaller (4112 terms for 8-bit operands), and a @ b = 16 * (hi @ b) + lo @ b exactly in int32.
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext } from '../kernel.js';
import type { RTensor } from '../value.js';

/** 2^24: every integer of magnitude up to this is exact in float32. */
export const FLOAT32_EXACT = 16777216;

/** How many products of magnitude at most `boundA * boundB` a float32 sum holds exactly. */
export function exactTerms(boundA: number, boundB: number): number {
  return Math.max(1, Math.floor(FLOAT32_EXACT / Math.max(1, boundA * boundB)));
}

/** The base-16 digits of a float32 tensor of integers, a = 16 * hi + lo, and the bound on either. */
export function splitDigits(a: tf.Tensor, bound: number): { hi: tf.Tensor; lo: tf.Tensor; bound: number } {
  const hi = tf.floor(tf.div(a, tf.scalar(16)));
  const lo = tf.sub(a, tf.mul(hi, tf.scalar(16)));
  return { hi, lo, bound: Math.max(15, Math.ceil(bound / 16)) };
}

/**
 * Whether splitting one operand into base-16 digits (two passes of `pieces(splitTerms)` products) beats
 * `pieces(terms)` direct products.
 */
export function digitsPay(terms: number, splitTerms: number, pieces: (t: number) => number): boolean {
  return pieces(terms) > 2 * pieces(splitTerms);
}

function chunkedMatMul(a: tf.Tensor, b: tf.Tensor, chunk: number): tf.Tensor {
  const k = a.shape[a.rank - 1]!;
  if (k <= chunk) return tf.cast(tf.matMul(a, b), 'int32');
  let acc: tf.Tensor | undefined;
  for (let k0 = 0; k0 < k; k0 += chunk) {
    const len = Math.min(chunk, k - k0);
    const aBegin = a.shape.map((_, i) => (i === a.rank - 1 ? k0 : 0));
    const aSize = a.shape.map((d, i) => (i === a.rank - 1 ? len : d));
    const bBegin = b.shape.map((_, i) => (i === b.rank - 2 ? k0 : 0));
    const bSize = b.shape.map((d, i) => (i === b.rank - 2 ? len : d));
    const part = tf.cast(tf.matMul(tf.slice(a, aBegin, aSize), tf.slice(b, bBegin, bSize)), 'int32');
    acc = acc ? tf.add(acc, part) : part;
  }
  return acc!;
}

/**
 * a @ b for float32 tensors holding integers (|a| <= boundA, |b| <= boundB), rank >= 2 with tfjs batch
 * broadcasting, as an exact int32 tensor. Call inside a tidy.
 */
export function exactIntMatMul(a: tf.Tensor, b: tf.Tensor, boundA: number, boundB: number): tf.Tensor {
  const k = a.shape[a.rank - 1]!;
  const terms = exactTerms(boundA, boundB);
  const splitTerms = exactTerms(Math.max(15, Math.ceil(boundA / 16)), boundB);
  if (!digitsPay(terms, splitTerms, (t) => Math.ceil(k / t))) return chunkedMatMul(a, b, terms);
  const d = splitDigits(a, boundA);
  return tf.add(tf.mul(chunkedMatMul(d.hi, b, splitTerms), tf.scalar(16, 'int32')), chunkedMatMul(d.lo, b, splitTerms));
}

/**
 * ONNX MatMul shape rules (numpy matmul): 1-D operands are promoted (a: [K] -> [1, K], b: [K] -> [K, 1])
 * and the promoted axis dropped from the result. Returns the promoted operands and the result reshape.
 */
export function promoteMatMul(a: tf.Tensor, b: tf.Tensor, what: string): { a: tf.Tensor; b: tf.Tensor; finish: (y: tf.Tensor) => tf.Tensor } {
  const a2 = a.rank === 1 ? tf.reshape(a, [1, a.shape[0]!]) : a;
  const b2 = b.rank === 1 ? tf.reshape(b, [b.shape[0]!, 1]) : b;
  if (a.rank === 0 || b.rank === 0) throw new ModelError(`${what}: MatMul operands must have rank >= 1`);
  const ka = a2.shape[a2.rank - 1];
  const kb = b2.shape[b2.rank - 2];
  if (ka !== kb) throw new ModelError(`${what}: inner dimensions differ: A [${a.shape.join(',')}] and B [${b.shape.join(',')}]`);
  const finish = (y: tf.Tensor): tf.Tensor => {
    if (a.rank === 1 && b.rank === 1) return tf.reshape(y, []);
    if (a.rank === 1) return tf.squeeze(y, [y.rank - 2]);
    if (b.rank === 1) return tf.squeeze(y, [y.rank - 1]);
    return y;
  };
  return { a: a2, b: b2, finish };
}

/**
 * The shape a MatMulInteger / QLinearMatMul zero point (or scale) takes to broadcast against its operand:
 * per tensor (one value), per row of A (1-D [M] or [.., M, 1]) or per column of B (1-D [N] or [.., 1, N]).
 */
export function zeroPointShape(zp: RTensor, operand: RTensor, side: 'A' | 'B', ctx: KernelContext): number[] {
  if (zp.size === 1) return [];
  const r = operand.rank;
  if (zp.rank === 1 && r >= 2) {
    if (side === 'A' && zp.dims[0] === operand.dims[r - 2]) return [zp.dims[0]!, 1];
    if (side === 'B' && zp.dims[0] === operand.dims[r - 1]) return [zp.dims[0]!];
  }
  if (zp.rank === r && r >= 2) {
    const ok = zp.dims.every((d, i) => (side === 'A' && i === r - 1) || (side === 'B' && i === r - 2) ? d === 1 : d === operand.dims[i]);
    if (ok) return zp.dims.slice();
  }
  throw new ModelError(
    `${ctx.node.describe()}: ${side} zero point of shape [${zp.dims.join(',')}] does not fit ${side} [${operand.dims.join(',')}]`,
    side === 'A' ? 'use a scalar, a 1-D [M] (per row) or [.., M, 1] zero point' : 'use a scalar, a 1-D [N] (per column) or [.., 1, N] zero point',
  );
}

