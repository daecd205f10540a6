/**
 * Float matrix products in the form each backend runs fastest, with numpy's batch broadcasting.
 *
 * What the wasm backend does (tfjs-backend-wasm batch_mat_mul_impl.cc, measured on our 2 cores): only a
 * product with no transpose flags and a batch of one on both sides goes to XNNPACK's fully-connected
 * kernel (~15-20 GFLOP/s); anything else falls back to a plain blocked loop (~1 GFLOP/s, ~5x slower
 * with a transposed operand). So on wasm: transposes are made explicit, [.., M, K] @ [K, N] becomes one
 * 2-D product of [(..)*M, K] @ [K, N], and a real batch runs as a loop of 2-D products.
 *
 * tfjs's own batch broadcasting is also only right when one side's whole batch is 1 or both are equal
 * (its kernels index the flattened batch modulo each side's batch size, so [2,1] against [1,3] pairs the
 * wrong matrices, and its gradient for a broadcast operand has the wrong shape); other batch shapes are
 * made equal with tf.broadcastTo first, whose gradient sums back correctly.
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { TfActivation } from '../fusion.js';
import { attr, nativeBiasActivation, nativeMatMul, nativeOp, nativeOps, typeAttr } from '../tensorflow.js';

/** True when the active tfjs backend is the wasm one (some kernels pick other formulations there). */
export function onWasm(): boolean {
  return tf.getBackend() === 'wasm';
}

/** True when the active tfjs backend is TensorFlow's own (tfjs-node or tfjs-node-gpu). */
export function onTensorflow(): boolean {
  return tf.getBackend() === 'tensorflow';
}

/**
 * Whether a batch of `bt` products [M, K] @ [K, N] runs faster on wasm as a loop of XNNPACK 2-D products
 * than as tfjs's one batched call (a plain loop, ~1.3 GFLOP/s at any size). The loop pays per matrix: an
 * XNNPACK operator built for an operand it has never seen (~0.1 ms), and tf.slice, which on wasm copies
 * the *whole* input out of the heap before taking its part, so the slices cost bt^2 (MK + KN) copies.
 * Measured on our 2 cores: 32 products of 32x32x32 (the LM fixture's attention) take 1.5 ms batched and
 * 11-16 ms as a loop; 32 of 128^3 88 ms against 103 ms; 4 of 128^3 11 ms against 2.7 ms; 8 of 256^3
 * 227 ms against 57 ms. Hence: loop when the matrices are big and their products outweigh the copies.
 */
function loopWins(bt: number, m: number, k: number, n: number): boolean {
  const macs = m * k * n;
  return macs >= 131072 && macs > 6 * bt * (m * k + k * n);
}

function prod(dims: readonly number[]): number {
  let p = 1;
  for (const d of dims) p *= d;
  return p;
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** a @ b for 2-D float32 tensors with optional transposes. Call inside a tidy. */
export function matMul2d(a: tf.Tensor, b: tf.Tensor, transA = false, transB = false): tf.Tensor2D {
  if (onWasm()) {
    const a2 = transA ? tf.transpose(a) : a;
    const b2 = transB ? tf.transpose(b) : b;
    return tf.matMul(a2 as tf.Tensor2D, b2 as tf.Tensor2D);
  }
  return tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, transA, transB);
}

/**
 * Whether, at inference on wasm, a batch of products [M, K] @ [K, N] runs faster as XNNPACK 2-D products
 * on operands cut on the host (hostLoop) than as tfjs's batched kernel: whenever one product is big enough
 * for XNNPACK's dispatch (~0.05 ms) to be small against the batched kernel's ~1.3 GFLOP/s. Measured: a
 * 125M decoder's attention, 96 products of 512x64x512, 2.9 s batched against 0.25 s.
 */
function hostLoopWins(m: number, k: number, n: number): boolean {
  return m * k * n >= 131072;
}

/**
 * A batch of products as a loop of XNNPACK 2-D products on operands cut from host copies of `a` and `b`
 * (one read-back each; tf.slice on wasm would copy a whole operand per matrix). Not differentiable: for
 * inference only.
 */
function hostLoop(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  const [bt, m, k] = a.shape;
  const n = b.shape[2];
  const ad = a.dataSync() as Float32Array;
  const bd = b.dataSync() as Float32Array;
  const out = new Float32Array(bt * m * n);
  for (let i = 0; i < bt; i++) {
    const ai = tf.tensor2d(ad.subarray(i * m * k, (i + 1) * m * k), [m, k]);
    const bi = tf.tensor2d(bd.subarray(i * k * n, (i + 1) * k * n), [k, n]);
    const yi = tf.matMul(ai, bi);
    out.set(yi.dataSync() as Float32Array, i * m * n);
    tf.dispose([ai, bi, yi]);
  }
  return tf.tensor3d(out, [bt, m, n]);
}

/**
 * a [B, M, K] @ b [B, K, N] -> [B, M, N] (float32). On wasm a loop of XNNPACK 2-D products when the
 * matrices are big enough to pay for the per-call dispatch (cut on the host at inference); elsewhere
 * tfjs's batched kernel.
 */
function matMul3d(a: tf.Tensor3D, b: tf.Tensor3D, inference: boolean): tf.Tensor3D {
  const [bt, m, k] = a.shape;
  const n = b.shape[2];
  if (bt === 1) return tf.reshape(tf.matMul(tf.reshape(a, [m, k]), tf.reshape(b, [k, n])), [1, m, n]);
  if (onWasm() && inference && hostLoopWins(m, k, n)) return hostLoop(a, b);
  if (!onWasm() || !loopWins(bt, m, k, n)) return tf.matMul(a, b);
  const parts: tf.Tensor[] = [];
  for (let i = 0; i < bt; i++) {
    const ai = tf.reshape(tf.slice(a, [i, 0, 0], [1, m, k]), [m, k]);
    const bi = tf.reshape(tf.slice(b, [i, 0, 0], [1, k, n]), [k, n]);
    parts.push(tf.matMul(ai, bi));
  }
  return tf.stack(parts) as tf.Tensor3D;
}

/** What a fused product adds to its result: a bias along the last axis [N] (1-D), then an activation. */
export interface ProductEpilogue {
  bias?: tf.Tensor;
  activation?: TfActivation;
}

/**
 * numpy matmul of float32 tensors of rank >= 1 (1-D operands promoted and the promoted axis dropped),
 * with batch broadcasting. `what` names the node for errors. With `epilogue` (A of rank >= 2, B 2-D
 * only, at inference), the bias and activation are fused into the product (on wasm, XNNPACK's
 * fully-connected epilogue; on TensorFlow, its own ops called directly). `inference` allows forms
 * without gradients (a kernel passes `!ctx.training`). Call inside a tidy.
 */
export function batchMatMul(a: tf.Tensor, b: tf.Tensor, what: string, epilogue?: ProductEpilogue, inference = false): tf.Tensor {
  if (a.rank === 0 || b.rank === 0) throw new ModelError(`${what}: MatMul operands must have rank >= 1`);
  const a2 = a.rank === 1 ? tf.reshape(a, [1, a.shape[0]!]) : a;
  const b2 = b.rank === 1 ? tf.reshape(b, [b.shape[0]!, 1]) : b;
  const [m, k] = a2.shape.slice(-2) as [number, number];
  const [kb, n] = b2.shape.slice(-2) as [number, number];
  if (k !== kb) throw new ModelError(`${what}: inner dimensions differ: A [${a.shape.join(',')}] and B [${b.shape.join(',')}]`);
  const batchA = a2.shape.slice(0, -2);
  const batchB = b2.shape.slice(0, -2);
  const rank = Math.max(batchA.length, batchB.length);
  const batch: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = batchA[i - (rank - batchA.length)] ?? 1;
    const db = batchB[i - (rank - batchB.length)] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new ModelError(`${what}: batch dimensions of A [${a.shape.join(',')}] and B [${b.shape.join(',')}] cannot be broadcast`);
    batch.push(Math.max(da, db));
  }
  let y: tf.Tensor;
  if (epilogue && (a.rank < 2 || b.rank !== 2)) throw new Error(`${what}: a fused epilogue needs A of rank >= 2 and a 2-D B`);
  if ((inference || epilogue) && a.rank >= 2 && b.rank >= 2 && a.dtype === 'float32' && b.dtype === 'float32' && nativeOps()) {
    // TensorFlow at inference, its own ops called directly: against a 2-D B, every row of A in one MatMul
    // (BatchMatMulV2 would run one product per matrix of A: 2x slower for the LM's output head); else one
    // BatchMatMulV2, which broadcasts batches as numpy does.
    const T = typeAttr('float32');
    const finish = (p: tf.Tensor) => (epilogue ? nativeBiasActivation(p, epilogue.bias, epilogue.activation) : p);
    if (b.rank === 2) {
      const rows = a.rank === 2 ? a : tf.reshape(a, [prod(a.shape.slice(0, -1)), k]);
      const p = finish(nativeMatMul(rows, b));
      return a.rank === 2 ? p : tf.reshape(p, [...a.shape.slice(0, -1), n]);
    }
    return finish(nativeOp('BatchMatMulV2', [a, b], [T, attr.bool('adj_x', false), attr.bool('adj_y', false)]));
  }
  if (prod(batchB) === 1) {
    // Every matrix of A meets the same B: one 2-D product over all rows of A.
    const rows = tf.reshape(a2, [prod(batchA) * m, k]) as tf.Tensor2D;
    const b2d = tf.reshape(b2, [k, n]) as tf.Tensor2D;
    const act = epilogue?.activation;
    const y2 = epilogue
      ? tf.fused.matMul({ a: rows, b: b2d, bias: epilogue.bias, activation: act?.kind, leakyreluAlpha: act?.kind === 'leakyrelu' ? act.alpha : undefined })
      : tf.matMul(rows, b2d);
    y = tf.reshape(y2, [...batch, m, n]);
  } else {
    const fullA = prod(batchA) === 1 || sameDims(padLeft(batchA, rank), batch) ? a2 : tf.broadcastTo(a2, [...batch, m, k]);
    const fullB = sameDims(padLeft(batchB, rank), batch) ? b2 : tf.broadcastTo(b2, [...batch, k, n]);
    const bt = prod(batch);
    const a3 = tf.reshape(fullA, [prod(fullA.shape.slice(0, -2)), m, k]) as tf.Tensor3D;
    const b3 = tf.reshape(fullB, [bt, k, n]) as tf.Tensor3D;
    y = tf.reshape(matMul3dAny(a3, b3, bt, inference), [...batch, m, n]);
  }
  if (a.rank === 1 && b.rank === 1) return tf.reshape(y, []);
  if (a.rank === 1) return tf.squeeze(y, [y.rank - 2]);
  if (b.rank === 1) return tf.squeeze(y, [y.rank - 1]);
  return y;
}

/** matMul3d where A may have a batch of one against a batched B. */
function matMul3dAny(a: tf.Tensor3D, b: tf.Tensor3D, bt: number, inference: boolean): tf.Tensor3D {
  if (a.shape[0] === bt) return matMul3d(a, b, inference);
  const [, m, k] = a.shape;
  const n = b.shape[2];
  // tfjs's kernel would broadcast A's batch of one, but its gradient for A would come back batched.
  if (!onWasm()) return matMul3d(tf.broadcastTo(a, [bt, m, k]) as tf.Tensor3D, b, inference);
  // One A against many Bs: [M, K] @ [K, bt*N] after moving the batch next to N, then back. The two
  // transposes (~2 ns per element) cost less than the batched kernel's ~1.5 ns per multiply-add
  // whenever M > 2 or so.
  const bk = tf.reshape(tf.transpose(b, [1, 0, 2]), [k, bt * n]);
  const y = tf.matMul(tf.reshape(a, [m, k]) as tf.Tensor2D, bk as tf.Tensor2D);
  return tf.transpose(tf.reshape(y, [m, bt, n]), [1, 0, 2]) as tf.Tensor3D;
}

function padLeft(dims: readonly number[], rank: number): number[] {
  return [...new Array<number>(rank - dims.length).fill(1), ...dims];
}
