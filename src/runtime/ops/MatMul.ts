/**
 * MatMul (ONNX): numpy matmul. 1-D operands are promoted ([K] as [1, K] on the left, [K, 1] on the
 * right) and the promoted axis removed; leading batch dimensions broadcast. Float types run on tfjs
 * (util/matmul.ts picks the fast form per backend), at inference with the bias Add and activation after
 * a constant 2-D B fused in when the session hands an epilogue (runtime/fusion.ts); integer types
 * (opset 9+) are computed exactly on the host, since tfjs has no int32 matmul on wasm and int64 does not
 * fit tfjs at all.
 */
import { DataType, isFloatType } from '../../core/dtype.js';
import { bfloat16ToFloat32Array, float16ToFloat32Array } from '../../core/float16.js';
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { stable } from '../util/constcache.js';
import { finish, foldSteps, scales, tfActivation } from '../util/epilogue.js';
import { batchMatMul } from '../util/matmul.js';
import { onDevice } from '../util/device.js';
import { RTensor, toCanonical } from '../value.js';
import type { NumericArray } from '../../ir/tensor.js';

function run(inputs: readonly (RTensor | null)[], ctx: KernelContext): (RTensor | null)[] {
  const a = required(inputs, 0, ctx);
  const b = required(inputs, 1, ctx);
  if (a.dataType !== b.dataType) throw new ModelError(`${ctx.node.describe()}: A and B have different types (${a.dataType} and ${b.dataType})`);
  if (!isFloatType(a.dataType)) return [hostMatMul(a, b, ctx)];
  if (ctx.streaming && !ctx.training && !ctx.epilogue && streamable(a, b)) return [streamedMatMul(a, b)];
  onDevice(a, b);
  const origin = ctx.node.input(1);
  const ep = ctx.epilogue;
  const y = tf.tidy(() => {
    // A constant B keeps its identity across runs, so the wasm backend reuses its packed weights.
    if (!ep) return batchMatMul(a.tf, stable(b, origin), ctx.node.describe(), undefined, !ctx.training);
    // Fused (runtime/fusion.ts): B scaled by the epilogue's Mul/Div steps, its bias the folded shift,
    // both computed once and kept by the session.
    const n = b.dims[1]!;
    const w = scales(ep.steps) ? ep.cache('weight', () => tf.mul(b.tf, foldSteps(ep.steps, null, n).scale!)) : stable(b, origin);
    const bias = ep.steps.length > 0 ? ep.cache('bias', () => foldSteps(ep.steps, null, n).shift) : undefined;
    const y = batchMatMul(a.tf, w, ctx.node.describe(), { bias, activation: tfActivation(ep) });
    return finish(y, ep, n);
  });
  return [RTensor.fromTf(y, a.dataType)];
}

/** Columns of a streamed weight converted at a time: about 32 MB of float32 per piece. */
const streamPieceBytes = 32 * 2 ** 20;

/**
 * A constant 2-D B still on the host (a streamed weight) of at least 4 MB as float32, against an A of
 * rank >= 2: it goes to tfjs in slabs and is never kept there (the session is done with it after this).
 */
function streamable(a: RTensor, b: RTensor): boolean {
  return !b.owned && b.onHost && !b.onDevice && b.rank === 2 && a.rank >= 2 && b.size * 4 >= 4 * 2 ** 20;
}

/** The float32 slab a float16 / bfloat16 weight is decoded into, reused (no fresh pages per slab). */
let slabScratch = new Float32Array(0);

function decodedSlab(dataType: number, bits: Uint16Array): Float32Array {
  if (slabScratch.length < bits.length) slabScratch = new Float32Array(bits.length);
  const out = slabScratch.subarray(0, bits.length);
  return dataType === DataType.FLOAT16 ? float16ToFloat32Array(bits, out) : bfloat16ToFloat32Array(bits, out);
}

/**
 * A @ B for a streamed weight B [K, N] on the host: B goes to tfjs a slab of rows at a time (contiguous in
 * memory, so a float32 slab is handed over as it lies, and a float16 / bfloat16 one is decoded slab by
 * slab), and the slabs' products A[:, k0:k1] @ B[k0:k1, :] are summed; neither the whole float32 weight
 * nor the backend's packed copy of it is ever held: an output head of 128k x 3072 costs 32 MB at a time,
 * not 3 GB.
 */
export function streamedMatMul(a: RTensor, b: RTensor, pieceBytes = streamPieceBytes): RTensor {
  const [K, N] = b.dims as [number, number];
  const rowsPerSlab = Math.max(1, Math.floor(pieceBytes / 4 / N));
  const host = b.host() as NumericArray;
  const rows = tf.reshape(a.tf, [-1, K]) as tf.Tensor2D;
  let sum: tf.Tensor2D | undefined;
  try {
    for (let k0 = 0; k0 < K; k0 += rowsPerSlab) {
      const kc = Math.min(rowsPerSlab, K - k0);
      const slab = host.subarray(k0 * N, (k0 + kc) * N) as NumericArray;
      // tfjs takes the values when the product runs (below), before the scratch is decoded into again.
      const values = b.dataType === DataType.FLOAT ? (slab as Float32Array) : b.dataType === DataType.FLOAT16 || b.dataType === DataType.BFLOAT16 ? decodedSlab(b.dataType, slab as Uint16Array) : RTensor.fromHost(b.dataType, [kc, N], slab).float32();
      const w = tf.tensor2d(values, [kc, N]);
      const part = tf.tidy(() => tf.matMul(kc === K ? rows : tf.slice(rows, [0, k0], [-1, kc]), w)) as tf.Tensor2D;
      w.dispose();
      if (sum) {
        const next = tf.add(sum, part) as tf.Tensor2D;
        sum.dispose();
        part.dispose();
        sum = next;
      } else sum = part;
    }
    const y = tf.reshape(sum!, [...a.dims.slice(0, -1), N]);
    return RTensor.fromTf(y, a.dataType);
  } finally {
    rows.dispose();
    sum?.dispose();
  }
}

/** Exact integer matmul on the host (int64 through BigInt, narrower types through doubles). */
function hostMatMul(a: RTensor, b: RTensor, ctx: KernelContext): RTensor {
  const ad = a.rank === 1 ? [1, a.dims[0]!] : a.dims;
  const bd = b.rank === 1 ? [b.dims[0]!, 1] : b.dims;
  const [m, k] = ad.slice(-2) as [number, number];
  const [kb, n] = bd.slice(-2) as [number, number];
  if (k !== kb) throw new ModelError(`${ctx.node.describe()}: inner dimensions differ: A [${a.dims.join(',')}] and B [${b.dims.join(',')}]`);
  const batchA = ad.slice(0, -2);
  const batchB = bd.slice(0, -2);
  const rank = Math.max(batchA.length, batchB.length);
  const pa = [...new Array<number>(rank - batchA.length).fill(1), ...batchA];
  const pb = [...new Array<number>(rank - batchB.length).fill(1), ...batchB];
  const batch = pa.map((d, i) => {
    const e = pb[i]!;
    if (d !== e && d !== 1 && e !== 1) throw new ModelError(`${ctx.node.describe()}: batch dimensions of A [${a.dims.join(',')}] and B [${b.dims.join(',')}] cannot be broadcast`);
    return Math.max(d, e);
  });
  const total = batch.reduce((x, y) => x * y, 1);
  // Flat batch offset of each output batch element in A and in B (0 stride on broadcast axes).
  const offsets = (dims: number[]): number[] => {
    const strides = new Array<number>(rank);
    let s = 1;
    for (let i = rank - 1; i >= 0; i--) {
      strides[i] = dims[i] === 1 ? 0 : s;
      s *= dims[i]!;
    }
    const out: number[] = [];
    for (let flat = 0; flat < total; flat++) {
      let rem = flat;
      let off = 0;
      for (let i = rank - 1; i >= 0; i--) {
        const idx = rem % batch[i]!;
        rem = Math.floor(rem / batch[i]!);
        off += idx * strides[i]!;
      }
      out.push(off);
    }
    return out;
  };
  const offA = offsets(pa);
  const offB = offsets(pb);
  const outDims = [...batch, m, n];
  const is64 = a.dataType === DataType.INT64 || a.dataType === DataType.UINT64;
  let out: RTensor;
  if (is64) {
    const A = a.host() as BigInt64Array;
    const B = b.host() as BigInt64Array;
    const Y = a.dataType === DataType.INT64 ? new BigInt64Array(total * m * n) : new BigUint64Array(total * m * n);
    for (let t = 0; t < total; t++) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0n;
          for (let q = 0; q < k; q++) s += BigInt(A[offA[t]! * m * k + i * k + q]!) * BigInt(B[offB[t]! * k * n + q * n + j]!);
          Y[(t * m + i) * n + j] = s as never;
        }
      }
    }
    out = RTensor.fromHost(a.dataType, outDims, Y);
  } else {
    const A = a.numbers();
    const B = b.numbers();
    const Y = new Array<number>(total * m * n);
    for (let t = 0; t < total; t++) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let q = 0; q < k; q++) s += A[offA[t]! * m * k + i * k + q]! * B[offB[t]! * k * n + q * n + j]!;
          Y[(t * m + i) * n + j] = s;
        }
      }
    }
    // toCanonical stores into the type's typed array, which wraps out-of-range sums as C does.
    out = RTensor.fromHost(a.dataType, outDims, toCanonical(a.dataType, Y));
  }
  let dims = outDims;
  if (a.rank === 1 && b.rank === 1) dims = [];
  else if (a.rank === 1) dims = [...batch, n];
  else if (b.rank === 1) dims = [...batch, m];
  return dims === outDims ? out : RTensor.fromHost(out.dataType, dims, out.host());
}

/** Versions 9 (integer types) and 13 (bfloat16) only widened the types; one kernel serves all. */
export const MatMul: OpKernel[] = [{ domain: '', opType: 'MatMul', since: 1, run }];
