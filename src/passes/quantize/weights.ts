/**
 * Carrying out the weight decisions of a plan: each weight is quantized by round-to-nearest and written
 * as MatMulNBits or as DequantizeLinear feeding its readers. Used by weight-only quantization, and by
 * static and dynamic quantization for the weights they leave to DequantizeLinear (embedding tables).
 */
import type { Model } from '../../ir/model.js';
import type { LayerReport } from '../../report/schema.js';
import { toMatMulNBits, type QuantizedTensor } from '../../tensor/quant.js';
import { DataType } from '../../core/dtype.js';
import { Tensor } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';
import { addDequantizeLinear, replaceWeight, writeMatMulNBits } from '../shared/writers.js';
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
export function applyWeightDecision(model: Model, d: WeightDecision): { error: number; q: QuantizedTensor } {
  const site = d.sites[0]!;
  const bits = d.bits as number;
  const symmetric = d.symmetric ?? true;
  if (d.format === 'matmulnbits') {
    const t = site.tensor;
    const isGemm = site.op === 'Gemm';
    const w = isGemm
      ? gemmWeightMatrix(t.data as Float32Array, t.dims, site.node.attrInt('transB', 0) !== 0, site.node.attrFloat('alpha', 1))
      : { data: t.data as Float32Array, dims: t.dims as [number, number] };
    const { q, error } = quantizeWeight(w.data, w.dims, d.layout!, bits, symmetric);
    writeMatMulNBits(model, site.node, toMatMulNBits(q), site.value.name);
    return { error, q };
  }
  if (d.format === 'dequantizelinear' || d.format === 'com.microsoft.dequantizelinear') {
    const { q, error } = quantizeWeight(site.tensor.data as Float32Array, d.matrixDims ?? site.tensor.dims, d.layout!, bits, symmetric);
    const domain = d.format === 'dequantizelinear' ? '' : 'com.microsoft';
    let out = addDequantizeLinear(site.value.graph, q, { name: site.value.name, domain });
    if (d.matrixDims) out = reshapeAfter(out, site.tensor.dims, site.value.name);
    replaceWeight(site.value, out);
    if (domain) model.ensureOpset(domain, 1);
    return { error, q };
  }
  throw new Error(`applyWeightDecision cannot write format '${d.format}'`);
}

/** A Reshape of a dequantized matrix back to the weight's own shape (grouped Conv weights). */
function reshapeAfter(v: Value, dims: readonly number[], name: string): Value {
  const g = v.graph;
  const shape = g.addInitializer(`${name}_shape`, Tensor.int64([dims.length], dims));
  const node = g.createNode({ opType: 'Reshape', name: `${name}_Reshape`, inputs: [v, shape], outputs: [`${name}_reshaped`], after: v.producer ?? undefined });
  const out = node.output(0)!;
  out.type = { kind: 'tensor', elemType: DataType.FLOAT, shape: dims.slice() };
  return out;
}
