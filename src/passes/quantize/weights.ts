/**
 * Carrying out the weight decisions of a plan: each weight is quantized by round-to-nearest and written
 * as MatMulNBits or as DequantizeLinear feeding its readers. Used by weight-only quantization, and by
 * static and dynamic quantization for the weights they leave to DequantizeLinear (embedding tables).
 */
import type { Model } from '../../ir/model.js';
import type { LayerReport } from '../../report/schema.js';
import { quantizeToMatMulNBits, type QuantizedTensor } from '../../tensor/quant.js';
import { releaseWeight, weightView } from '../../ir/weights.js';
import { DataType } from '../../core/dtype.js';
import { addDequantizeLinear, replaceWeight, reshapeAfter, writeMatMulNBits } from '../shared/writers.js';
import type { WeightDecision } from './plan.js';
import { gemmWeightMatrix, quantizeWeight } from './solve.js';

/** The layer report entry of a decision, with its measured error. */
export function layerReport(d: WeightDecision, error?: number): LayerReport {
  const r: LayerReport = { name: d.node, op: d.op, params: d.params, weight: d.weight, format: d.format };
  if (d.bits !== 'float') r.bits = d.bits;
  else r.bits = 32;
  if (d.granularity) r.granularity = d.granularity;
  if (d.groupSize) r.groupSize = d.groupSize;
  if (error !== undefined) r.error = error;
  if (d.reason) r.note = d.reason;
  return r;
}

/**
 * Quantizes one weight as decided (formats 'matmulnbits', 'dequantizelinear' and
 * 'com.microsoft.dequantizelinear') and rewrites the graph. Returns the relative reconstruction error and
 * the quantized tensor (static quantization derives bias scales from its scales).
 */
export function applyWeightDecision(model: Model, d: WeightDecision): { error: number; q?: QuantizedTensor } {
  const site = d.sites[0]!;
  const bits = d.bits as number;
  const symmetric = d.symmetric ?? true;
  const t = site.tensor;
  // Scales (and a Gemm's bias) are stored in the weight's own float type: a float16 model stays float16.
  const floatType = site.dataType;
  try {
    if (d.format === 'matmulnbits') {
      const transB = site.op === 'Gemm' && site.node.attrInt('transB', 0) !== 0;
      const alpha = site.op === 'Gemm' ? site.node.attrFloat('alpha', 1) : 1;
      const [K, N] = [t.dims[site.reductionAxis]!, t.dims[site.channelAxis]!];
      const blockSize = d.layout!.kind === 'block' ? d.layout!.blockSize : K;
      let r;
      if (alpha === 1) {
        // Straight from the stored values (float32, or float16 / bfloat16 bits decoded tile by tile).
        const kind = floatType === DataType.FLOAT16 ? 'float16' : floatType === DataType.BFLOAT16 ? 'bfloat16' : 'float32';
        r = quantizeToMatMulNBits(t.view() as Float32Array | Uint16Array, kind, K, N, blockSize, bits as 4 | 8, symmetric, transB);
      } else {
        const w = gemmWeightMatrix(weightView(t), t.dims, transB, alpha);
        r = quantizeToMatMulNBits(w.data, 'float32', K, N, blockSize, bits as 4 | 8, symmetric);
      }
      writeMatMulNBits(model, site.node, r.weights, site.value.name, undefined, floatType);
      return { error: r.error };
    }
    if (d.format === 'dequantizelinear' || d.format === 'com.microsoft.dequantizelinear') {
      const { q, error } = quantizeWeight(weightView(t), d.matrixDims ?? t.dims, d.layout!, bits, symmetric);
      const domain = d.format === 'dequantizelinear' ? '' : 'com.microsoft';
      let out = addDequantizeLinear(site.value.graph, q, { name: site.value.name, domain, floatType });
      if (d.matrixDims) out = reshapeAfter(out, t.dims, site.value.name, floatType);
      replaceWeight(site.value, out);
      if (domain) model.ensureOpset(domain, 1);
      return { error, q };
    }
  } finally {
    // A weight another node still reads keeps its initializer: give back what reading it took.
    releaseWeight(t);
  }
  throw new Error(`applyWeightDecision cannot write format '${d.format}'`);
}

