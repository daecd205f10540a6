/**
 * MatMulNBits (onnxruntime contrib op, com.microsoft 1): Y = A @ dequantize(B)^T (+ bias), the weight-only
 * quantized MatMul that onnxruntime's MatMulNBitsQuantizer (and GPTQ / AWQ / HQQ exporters) write.
 *
 * B is the [N, K] weight quantized along K in blocks of `block_size` (a power of two >= 16) and stored as
 * uint8 [N, k_blocks, blob_size], k_blocks = ceil(K / block_size), blob_size = block_size * bits / 8, each
 * block's `bits`-bit codes (2, 4 or 8) packed low bits first. Every block has a scale (shape [N, k_blocks]
 * or flat, the type of A) and a zero point: packed uint8 like B ([N, ceil(k_blocks * bits / 8)] or flat),
 * or unpacked of the scale's type ([N, k_blocks], HQQ-style fractional zero points), or, when absent,
 * 2^(bits - 1). Dequantization is w = (q - zero_point) * scale in float32. The deprecated g_idx input maps
 * each k to its block (act-order GPTQ): the code stays where k puts it, the scale and zero point come from
 * block g_idx[k] (onnxruntime 1.30 agrees, except that with uint8 zero points its g_idx path uses 8 for every
 * zero point, a bug we do not copy). `accuracy_level` only lets onnxruntime quantize A internally (level 4:
 * int8 A, relative differences near 1e-3) and is ignored: we compute in float32 like its default level.
 *
 * The dequantized weight is computed once on the host. When B, its scales and zero points are session
 * constants (RTensor.owned === false) it is cached against B's RTensor and freed when that is collected.
 */
import { DataType, dataTypeName, isFloatType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { RTensor } from '../value.js';

interface Attrs {
  k: number;
  n: number;
  bits: number;
  blockSize: number;
  kBlocks: number;
  blobSize: number;
}

interface CacheEntry {
  scales: RTensor;
  zeroPoints: RTensor | null;
  gIdx: RTensor | null;
  weight: tf.Tensor2D;
}

/** Dequantized weights of constant B tensors; disposed when the B RTensor is garbage collected. */
const cache = new WeakMap<RTensor, CacheEntry>();
const release = new FinalizationRegistry<tf.Tensor>((t) => {
  if (!t.isDisposed) t.dispose();
});

function readAttrs(ctx: KernelContext): Attrs {
  const node = ctx.node;
  const k = node.attrInt('K');
  const n = node.attrInt('N');
  const blockSize = node.attrInt('block_size');
  const bits = node.attrInt('bits', 4);
  if (k === undefined || n === undefined || blockSize === undefined) {
    throw new ModelError(`${node.describe()}: attributes K, N and block_size are required`);
  }
  if (bits !== 2 && bits !== 4 && bits !== 8) throw new ModelError(`${node.describe()}: bits must be 2, 4 or 8, got ${bits}`);
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new ModelError(`${node.describe()}: block_size must be a power of 2 and >= 16, got ${blockSize}`);
  }
  const kBlocks = Math.ceil(k / blockSize);
  return { k, n, bits, blockSize, kBlocks, blobSize: (blockSize * bits) / 8 };
}

function checkShape(t: RTensor, options: number[][], what: string, ctx: KernelContext): void {
  if (!options.some((o) => o.length === t.rank && o.every((d, i) => d === t.dims[i]))) {
    throw new ModelError(`${ctx.node.describe()}: ${what} has shape [${t.dims.join(',')}], expected ${options.map((o) => `[${o.join(',')}]`).join(' or ')}`);
  }
}

/**
 * The dequantized weight, transposed to float32 [K, N] (tfjs-wasm's matMul is an order of magnitude
 * slower with transposeB): w[k, n] = (q[n, k] - zp[n, block(k)]) * scale[n, block(k)].
 */
function dequantizeNBits(a: Attrs, b: Uint8Array, scales: ArrayLike<number>, zp: RTensor | null, gIdx: ArrayLike<number> | null): Float32Array {
  const { k: K, n: N, bits, blockSize, kBlocks, blobSize } = a;
  const mask = (1 << bits) - 1;
  const perByte = 8 / bits;
  const out = new Float32Array(N * K);
  const packedZp = zp && zp.dataType === DataType.UINT8 ? (zp.host() as Uint8Array) : null;
  const floatZp = zp && !packedZp ? zp.float32() : null;
  const zpBlob = Math.ceil((kBlocks * bits) / 8);
  const defaultZp = 1 << (bits - 1);
  const zpOf = (n: number, blk: number): number => {
    if (packedZp) {
      const byte = packedZp[n * zpBlob + Math.floor(blk / perByte)]!;
      return (byte >> ((blk % perByte) * bits)) & mask;
    }
    if (floatZp) return floatZp[n * kBlocks + blk]!;
    return defaultZp;
  };
  // The zero point of every (n, block), decoded once.
  const zps = new Float32Array(N * kBlocks);
  for (let n = 0; n < N; n++) for (let blk = 0; blk < kBlocks; blk++) zps[n * kBlocks + blk] = zpOf(n, blk);
  for (let n = 0; n < N; n++) {
    const row = n * kBlocks * blobSize;
    for (let stored = 0; stored < kBlocks; stored++) {
      const k0 = stored * blockSize;
      const kEnd = Math.min(K, k0 + blockSize);
      const base = row + stored * blobSize;
      for (let k = k0; k < kEnd; k++) {
        const j = k - k0;
        const q = (b[base + Math.floor(j / perByte)]! >> ((j % perByte) * bits)) & mask;
        const g = n * kBlocks + (gIdx ? gIdx[k]! : stored);
        out[k * N + n] = Math.fround(Math.fround(q - zps[g]!) * scales[g]!);
      }
    }
  }
  return out;
}

function weightOf(a: Attrs, b: RTensor, scales: RTensor, zp: RTensor | null, gIdx: RTensor | null): { weight: tf.Tensor2D; cached: boolean } {
  const hit = cache.get(b);
  if (hit && hit.scales === scales && hit.zeroPoints === zp && hit.gIdx === gIdx && !hit.weight.isDisposed) return { weight: hit.weight, cached: true };
  const data = dequantizeNBits(a, b.host() as Uint8Array, scales.float32(), zp, gIdx ? gIdx.numbers() : null);
  const weight = tf.tensor2d(data, [a.k, a.n], 'float32');
  const constant = !b.owned && !scales.owned && (!zp || !zp.owned) && (!gIdx || !gIdx.owned);
  if (!constant) return { weight, cached: false };
  if (hit) hit.weight.dispose();
  cache.set(b, { scales, zeroPoints: zp, gIdx, weight });
  release.register(b, weight);
  return { weight, cached: true };
}

/** MatMulNBits kernel: com.microsoft 1. */
export const MatMulNBits: OpKernel[] = [
  {
    domain: 'com.microsoft',
    opType: 'MatMulNBits',
    since: 1,
    run: (inputs, ctx) => {
      const a = required(inputs, 0, ctx);
      const b = required(inputs, 1, ctx);
      const scales = required(inputs, 2, ctx);
      const zp = inputs[3] ?? null;
      const gIdx = inputs[4] ?? null;
      const bias = inputs[5] ?? null;
      const at = readAttrs(ctx);
      if (!isFloatType(a.dataType)) throw new ModelError(`${ctx.node.describe()}: A must be a float tensor, got ${dataTypeName(a.dataType)}`);
      if (a.rank < 1 || a.dims[a.rank - 1] !== at.k) throw new ModelError(`${ctx.node.describe()}: A's last dimension must be K = ${at.k}, got shape [${a.dims.join(',')}]`);
      if (b.dataType !== DataType.UINT8) throw new ModelError(`${ctx.node.describe()}: B must be uint8, got ${dataTypeName(b.dataType)}`);
      checkShape(b, [[at.n, at.kBlocks, at.blobSize]], 'B', ctx);
      checkShape(scales, [[at.n * at.kBlocks], [at.n, at.kBlocks]], 'scales', ctx);
      if (zp) {
        if (zp.dataType === DataType.UINT8) {
          const blob = Math.ceil((at.kBlocks * at.bits) / 8);
          checkShape(zp, [[at.n * blob], [at.n, blob]], 'zero_points', ctx);
        } else {
          if (zp.dataType !== scales.dataType) throw new ModelError(`${ctx.node.describe()}: zero_points must be uint8 or the scales' type, got ${dataTypeName(zp.dataType)}`);
          checkShape(zp, [[at.n * at.kBlocks], [at.n, at.kBlocks]], 'zero_points', ctx);
        }
      }
      if (gIdx) {
        checkShape(gIdx, [[at.k], [at.kBlocks * at.blockSize]], 'g_idx', ctx);
        const bad = gIdx.numbers().findIndex((v) => v < 0 || v >= at.kBlocks);
        if (bad >= 0) throw new ModelError(`${ctx.node.describe()}: g_idx[${bad}] is outside [0, ${at.kBlocks})`);
      }
      if (bias) checkShape(bias, [[at.n]], 'bias', ctx);
      const { weight, cached } = weightOf(at, b, scales, zp, gIdx);
      const xt = a.tf;
      const bt = bias?.tf;
      const outDims = [...a.dims.slice(0, -1), at.n];
      const y = tf.tidy(() => {
        const y2 = tf.matMul(tf.reshape(xt, [-1, at.k]), weight);
        return tf.reshape(bt ? tf.add(y2, bt) : y2, outDims);
      });
      if (!cached) weight.dispose();
      return [RTensor.fromTf(y, a.dataType)];
    },
  },
];
