/**
 * The maths of weight quantization, apart from the graph: which scale layout a weight gets, the matrix
 * MatMulNBits stores for a Gemm, round-to-nearest quantization with its reconstruction error, and the
 * bytes a quantized weight occupies. Pure functions on arrays (STYLE.md habit 2).
 */
import { bitsPerElement } from '../../core/dtype.js';
import { dequantizeTensor, quantizeTensor, relativeError, type QuantLayout, type QuantizedTensor } from '../../tensor/quant.js';
import { codeType } from '../shared/writers.js';
import type { Granularity } from './options.js';

/** The smallest power of two >= n. */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * MatMulNBits' block size for a reduction length K and a requested group size: the group size, unless K
 * is shorter, in which case one block of the next power of two >= max(K, 16) holds all of K with less
 * padding (the quantization is the same: one group spans K either way).
 */
export function nbitsBlockSize(K: number, groupSize: number): number {
  return Math.min(groupSize, Math.max(16, nextPow2(K)));
}

/**
 * The scale layout for a weight: per tensor, per output channel (`channelAxis`), or in groups along
 * the reduction axis (each group also per output channel, as DequantizeLinear's blocked layout is).
 */
export function layoutFor(granularity: Granularity, channelAxis: number, reductionAxis: number, groupSize: number): QuantLayout {
  if (granularity === 'tensor') return { kind: 'tensor' };
  if (granularity === 'channel') return { kind: 'axis', axis: channelAxis };
  return { kind: 'block', axis: reductionAxis, blockSize: groupSize };
}

export { gemmWeightMatrix } from '../../tensor/linalg.js';

/** A quantized weight and its relative reconstruction error ||W - Q||^2 / ||W||^2. */
export function quantizeWeight(data: Float32Array, dims: readonly number[], layout: QuantLayout, bits: number, symmetric: boolean): { q: QuantizedTensor; error: number } {
  const q = quantizeTensor(data, dims, layout, { bits, symmetric });
  return { q, error: relativeError(data, dequantizeTensor(q)) };
}

/**
 * Bytes of a quantized weight stored as DequantizeLinear inputs: packed codes, scales of `scaleBytes`
 * each (4 for float32, 2 for a float16 / bfloat16 model's), zero points.
 */
export function dequantizeBytes(size: number, nScales: number, bits: number, symmetric: boolean, withZeroPoint: boolean, scaleBytes = 4): number {
  const codeBits = bitsPerElement(codeType(bits, symmetric));
  const codes = Math.ceil((size * codeBits) / 8);
  const zp = withZeroPoint ? Math.ceil((nScales * codeBits) / 8) : 0;
  return codes + scaleBytes * nScales + zp;
}

/**
 * Bytes of a MatMulNBits weight: N x kBlocks blobs, scales of `scaleBytes` each (the type of the op's
 * input A: 2 in a float16 model), packed zero points when asymmetric.
 */
export function matmulNBitsBytes(K: number, N: number, bits: number, blockSize: number, symmetric: boolean, scaleBytes = 4): number {
  const kBlocks = Math.ceil(K / blockSize);
  const b = N * kBlocks * ((blockSize * bits) / 8);
  const zp = symmetric ? 0 : N * Math.ceil((kBlocks * bits) / 8);
  return b + scaleBytes * N * kBlocks + zp;
}
