/**
 * Carrying out the weight decisions of a plan: each weight is quantized by round-to-nearest and written
 * as MatMulNBits or as DequantizeLinear feeding its readers. Used by weight-only quantization, and by
 * static and dynamic quantization for the weights they leave to DequantizeLinear (embedding tables).
 */
import type { Model } from '../../ir/model.js';
import type { LayerReport } from '../../report/schema.js';
import { quantizeToMatMulNBits, type NBitsResult, type QuantizedTensor } from '../../tensor/quant.js';
import type { NBitsJob } from '../../tensor/nbits-pool.js';
import { readRange } from '../../onnx/index.js';
import { floatTypeName, releaseWeight, weightView } from '../../ir/weights.js';
import { bitsPerElement, DataType } from '../../core/dtype.js';
import { makeAttr } from '../../ir/attribute.js';
import type { Value } from '../../ir/value.js';
import { addDequantizeLinear, replaceWeight, reshapeAfter, writeGatherBlockQuantized, writeMatMulNBits } from '../shared/writers.js';
import type { WeightDecision } from './plan.js';
import { gemmWeightMatrix, quantizeWeight } from './solve.js';

/**
 * The layer report entry of a decision, with its measured error. A weight left in float has `skipped`
 * with the reason (and the bits of its float type); a quantized one that differs from what the options
 * asked says why in `note`. `dataType` is the weight's float type in the input model.
 */
export function layerReport(d: WeightDecision, error?: number): LayerReport {
  const r: LayerReport = { name: d.node, op: d.op, params: d.params, weight: d.weight, format: d.format, dataType: floatTypeName(d.floatType) };
  r.bits = d.bits !== 'float' ? d.bits : bitsPerElement(d.floatType);
  if (d.granularity) r.granularity = d.granularity;
  if (d.groupSize) r.groupSize = d.groupSize;
  if (error !== undefined) r.error = error;
  if (d.bits === 'float') r.skipped = d.reason ?? 'left in float';
  else if (d.reason) r.note = d.reason;
  return r;
}

/**
 * Quantizes one weight as decided (formats 'matmulnbits', 'dequantizelinear' and
 * 'com.microsoft.dequantizelinear') and rewrites the graph. Returns the relative reconstruction error and
 * the quantized tensor (static quantization derives bias scales from its scales).
 */
/**
 * The block-quantization job of a MatMulNBits or GatherBlockQuantized decision (undefined for other
 * formats): the weight straight from its stored values (float32, or float16 / bfloat16 bits decoded tile
 * by tile), laid out as the op wants it. A weight read from its external data file only for this (or,
 * with `handOver`, one the caller is about to release) is released, and its buffer handed over (`transfer`).
 */
export function nbitsJob(d: WeightDecision, handOver = false): NBitsJob | undefined {
  if (d.format !== 'matmulnbits' && d.format !== 'gatherblockquantized') return undefined;
  const site = d.sites[0]!;
  const t = site.tensor;
  const bits = d.bits as 4 | 8;
  const symmetric = d.symmetric ?? true;
  const kind = site.dataType === DataType.FLOAT16 ? 'float16' : site.dataType === DataType.BFLOAT16 ? 'bfloat16' : 'float32';
  const blockSize = (d.layout as { blockSize: number }).blockSize;
  // Data that can be read again from its file is given up: read only for this, or (`handOver`) loaded
  // by a caller that is about to release it.
  const onDisk = t.source !== undefined && (handOver || !t.loaded);
  if (d.format === 'gatherblockquantized') {
    // Rows of D codes in blocks along D: the layout of a transposed MatMulNBits weight, bit for bit.
    const [V, D] = t.dims as [number, number];
    const src = t.view() as Float32Array | Uint16Array;
    if (onDisk) t.release();
    return { src, dataType: kind, K: D, N: V, blockSize, bits, symmetric, transposed: true, transfer: onDisk };
  }
  const transB = site.op === 'Gemm' && site.node.attrInt('transB', 0) !== 0;
  const alpha = site.op === 'Gemm' ? site.node.attrFloat('alpha', 1) : 1;
  const [K, N] = [t.dims[site.reductionAxis]!, t.dims[site.channelAxis]!];
  if (alpha !== 1) {
    const w = gemmWeightMatrix(weightView(t), t.dims, transB, alpha);
    if (onDisk) t.release();
    return { src: w.data, dataType: 'float32', K, N, blockSize, bits, symmetric, transposed: false, transfer: true };
  }
  const src = t.view() as Float32Array | Uint16Array;
  if (onDisk) t.release();
  return { src, dataType: kind, K, N, blockSize, bits, symmetric, transposed: transB, transfer: onDisk };
}

/** Writes a block-quantized weight (nbitsJob's result) into the graph: MatMulNBits or GatherBlockQuantized. */
export function writeNBits(model: Model, d: WeightDecision, r: NBitsResult): void {
  const site = d.sites[0]!;
  // Codes a pool spilled to disk stay there: the tensor reads them when (if ever) something needs them.
  const s = r.spilled;
  const w = s ? { ...r.weights, B: { path: s.path, offset: s.offset, length: s.length, read: () => readRange(s.path, s.offset, s.length, `the codes of '${site.value.name}'`) } } : r.weights;
  // Scales (and a Gemm's bias) are stored in the weight's own float type: a float16 model stays float16.
  if (d.format === 'gatherblockquantized') writeGatherBlockQuantized(model, site.node, w, site.value.name, site.dataType);
  else writeMatMulNBits(model, site.node, w, site.value.name, undefined, site.dataType);
}

export function applyWeightDecision(model: Model, d: WeightDecision): { error: number; q?: QuantizedTensor } {
  const site = d.sites[0]!;
  const bits = d.bits as number;
  const symmetric = d.symmetric ?? true;
  const t = site.tensor;
  const floatType = site.dataType;
  try {
    const job = nbitsJob(d);
    if (job) {
      const r = quantizeToMatMulNBits(job.src, job.dataType, job.K, job.N, job.blockSize, job.bits, job.symmetric, job.transposed);
      writeNBits(model, d, r);
      return { error: r.error };
    }
    if (d.format === 'dequantizelinear' || d.format === 'com.microsoft.dequantizelinear') {
      const { q, error } = quantizeWeight(weightView(t), d.matrixDims ?? t.dims, d.layout!, bits, symmetric);
      const domain = d.format === 'dequantizelinear' ? '' : 'com.microsoft';
      // com.microsoft's DequantizeLinear takes float32 and float16 scales: a bfloat16 weight is
      // dequantized to float32 there and cast back.
      const castBack = domain === 'com.microsoft' && floatType === DataType.BFLOAT16;
      let out = addDequantizeLinear(site.value.graph, q, { name: site.value.name, domain, floatType: castBack ? DataType.FLOAT : floatType });
      if (castBack) out = castAfter(out, floatType, site.value.name);
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

/** A Cast of a dequantized weight to `to` (its own float type). */
function castAfter(v: Value, to: number, name: string): Value {
  const g = v.graph;
  const node = g.createNode({ opType: 'Cast', name: `${name}_Cast`, inputs: [v], outputs: [`${name}_cast`], attributes: [makeAttr('to', to, 'int')], after: v.producer ?? undefined });
  const out = node.output(0)!;
  out.type = { kind: 'tensor', elemType: to, shape: v.type?.kind === 'tensor' ? v.type.shape : undefined };
  return out;
}
