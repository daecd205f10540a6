/**
 * `gptq`: the graph plumbing around solve.ts. Finds the MatMul/Gemm layers with constant weights, runs the
 * block-by-block calibration driver (src/calibration/sequential.ts), which hands each block's Hessians
 * to GPTQ; the quantized weights go back into the model in place (so later blocks are calibrated on the
 * quantized model's activations), and once every block is done they are written in the output format:
 * com.microsoft.MatMulNBits, or ai.onnx DequantizeLinear (blocked, opset 21) feeding the MatMul/Gemm.
 */
import { UsageError } from '../../core/errors.js';
import type { Model } from '../../ir/model.js';
import { makeAttr } from '../../ir/attribute.js';
import { collectHessians, findLinearLayers, setWeightMatrix, weightMatrix, type LinearLayer } from '../../calibration/sequential.js';
import type { Context } from '../../core/logger.js';
import type { RTensor } from '../../runtime/value.js';
import type { LayerReport } from '../../report/schema.js';
import { toMatMulNBits, type QuantizedTensor } from '../../tensor/quant.js';
import { planOpsetUpgrade, upgradeOpset } from '../shared/opset.js';
import { addDequantizeLinear, replaceWeight, writeMatMulNBits } from '../shared/writers.js';
import type { GptqOptions } from './options.js';
import { containerBits, gptqQuantize, type GptqParams } from './solve.js';

/** The smallest power of two >= n. */
function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** onnxruntime's MatMulNBits kernel takes block sizes 16 to 256 (powers of two). */
const maxNBitsBlock = 256;

/**
 * MatMulNBits' block_size for a layer: the group, or for a group of all of K (per channel) the power of
 * two that holds K, in both cases at most 256; a larger group is then written as several blocks that
 * repeat its scale and zero point (the same dequantized values, a few more scale bytes).
 */
export function nbitsBlock(K: number, groupSize: number): number {
  const g = effectiveGroup(K, groupSize);
  return Math.min(g === K ? nextPow2(Math.max(K, 16)) : g, maxNBitsBlock);
}

/** Re-expresses a [K, N] tensor blocked along axis 0 with blocks of `bs` rows, repeating group scales. */
function reblock(q: QuantizedTensor, bs: number): QuantizedTensor {
  if (q.layout.kind !== 'block') throw new RangeError('reblock needs a blocked layout');
  const [K, N] = q.dims as [number, number];
  const g = q.layout.blockSize;
  if (g === bs) return q;
  const blocks = Math.ceil(K / bs);
  const scales = new Float32Array(blocks * N);
  const zps = q.zeroPoints ? new Int32Array(blocks * N) : null;
  for (let b = 0; b < blocks; b++) {
    const src = Math.floor((b * bs) / g);
    scales.set(q.scales.subarray(src * N, (src + 1) * N), b * N);
    if (zps) zps.set(q.zeroPoints!.subarray(src * N, (src + 1) * N), b * N);
  }
  return { ...q, layout: { kind: 'block', axis: 0, blockSize: bs }, scales, zeroPoints: zps, scaleDims: [blocks, N] };
}

/** Rows per scale for a layer of K inputs: the group size, or all of K (per channel, or K <= group). */
export function effectiveGroup(K: number, groupSize: number): number {
  return groupSize === -1 || groupSize >= K ? K : groupSize;
}

/** Bytes a layer's weight takes once written in `format` (codes, float32 scales, zero points). */
export function layerBytes(K: number, N: number, o: Pick<GptqOptions, 'bits' | 'groupSize' | 'symmetric' | 'format'>): number {
  const cb = containerBits(o.bits);
  const g = effectiveGroup(K, o.groupSize);
  if (o.format === 'matmulnbits') {
    const bs = nbitsBlock(K, o.groupSize);
    const kBlocks = Math.ceil(K / bs);
    return N * kBlocks * ((bs * cb) / 8) + 4 * N * kBlocks + (o.symmetric ? 0 : N * Math.ceil((kBlocks * cb) / 8));
  }
  const groups = Math.ceil(K / g);
  return Math.ceil((K * N * cb) / 8) + 4 * groups * N + Math.ceil((groups * N * cb) / 8);
}

/** The ai.onnx opset the DequantizeLinear of these options needs. */
function qdqOpset(o: GptqOptions, layers: readonly LinearLayer[]): number {
  const blocked = layers.some((l) => effectiveGroup(l.K, o.groupSize) < l.K);
  return containerBits(o.bits) === 4 || blocked ? 21 : 13;
}

/** The context gptq runs in: logger, progress and the calibration batches (re-iterable feeds). */
export type GptqContext = Context & { data?: Iterable<Record<string, RTensor>> };

/** The plan --dry-run prints: each layer's bits, group, format and bytes. */
export interface GptqPlan {
  opset?: { from: number; to: number };
  newDomains?: string[];
  layers: { name: string; op: string; K: number; N: number; bits: number; storageBits: number; groupSize: number; format: string }[];
  skipped: { node: string; op: string; reason: string; params: number }[];
  bytes: { before: number; after: number };
}

/** Makes a plan JSON-friendly (it already is). */
export function printablePlan(plan: GptqPlan): unknown {
  return plan;
}

/** A quantized weight written as DequantizeLinear feeding its reader (the Gemm's B layout restored). */
function writeQdq(layer: LinearLayer, q: QuantizedTensor): void {
  const node = layer.node;
  let qt = q;
  if (layer.op === 'Gemm') {
    // weightMatrix folded alpha into the codes' scales; the node multiplies by 1 from now on.
    if (node.attrFloat('alpha', 1) !== 1) node.setAttr(makeAttr('alpha', 1, 'float'));
    if (node.attrInt('transB', 0) !== 0) qt = transposeQuantized(q);
  }
  if (qt.layout.kind === 'block' && qt.layout.blockSize >= qt.dims[qt.layout.axis]!) {
    // One group spans K: the per-axis layout (opset 13 for 8 bits) says the same with fewer words.
    const axis = 1 - qt.layout.axis;
    qt = { ...qt, layout: { kind: 'axis', axis }, scaleDims: [qt.dims[axis]!] };
  }
  const out = addDequantizeLinear(layer.weight.graph, qt, { name: layer.weight.name, domain: '' });
  replaceWeight(layer.weight, out);
}

/** [K, N] codes blocked along axis 0 -> [N, K] codes blocked along axis 1 (a Gemm's transB = 1 layout). */
function transposeQuantized(q: QuantizedTensor): QuantizedTensor {
  const [K, N] = q.dims as [number, number];
  const codes = new Int32Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) codes[n * K + k] = q.codes[k * N + n]!;
  const [G] = q.scaleDims as [number, number];
  const t = <T extends Float32Array | Int32Array>(a: T): T => {
    const out = new (a.constructor as new (n: number) => T)(a.length);
    for (let g = 0; g < G; g++) for (let n = 0; n < N; n++) out[n * G + g] = a[g * N + n]!;
    return out;
  };
  const blockSize = q.layout.kind === 'block' ? q.layout.blockSize : K;
  return { ...q, dims: [N, K], codes, scales: t(q.scales), zeroPoints: q.zeroPoints ? t(q.zeroPoints) : null, scaleDims: [N, G], layout: { kind: 'block', axis: 1, blockSize } };
}

/** What gptq returns (the CLI's PassOutcome): the model, per-layer reports, warnings and the plan. */
export interface GptqOutcome {
  model: Model;
  modified: boolean;
  layers: LayerReport[];
  warnings: string[];
  plan: GptqPlan;
}

/**
 * GPTQ-quantizes the model's MatMul/Gemm weights in place, block by block, from the calibration batches
 * in `ctx.data`. With `dryRun` nothing is computed and the plan says what would happen. Throws
 * UsageError without data, or when --format qdq needs an opset the model cannot be raised to.
 */
export async function gptq(model: Model, options: GptqOptions, ctx: GptqContext): Promise<GptqOutcome> {
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    ctx.logger.warn(m);
  };
  const found = findLinearLayers(model, { exclude: options.exclude });
  const skipped = found.skipped.map((s) => ({ node: s.node.name, op: s.node.opType, reason: s.reason, params: s.node.input(1)?.initializer?.size ?? 0 }));
  let layers = found.layers;
  if (options.format === 'matmulnbits') {
    const transA = layers.filter((l) => l.layout.transposed);
    for (const l of transA) skipped.push({ node: l.name, op: l.op, params: l.K * l.N, reason: 'a Gemm with transA = 1, which MatMulNBits cannot express (use --format qdq)' });
    layers = layers.filter((l) => !l.layout.transposed);
  }
  for (const s of skipped) ctx.logger.debug(`gptq: leaving '${s.node}' in float: ${s.reason}`);
  const storageBits = containerBits(options.bits);
  const plan: GptqPlan = {
    layers: layers.map((l) => ({ name: l.name, op: l.op, K: l.K, N: l.N, bits: options.bits, storageBits, groupSize: effectiveGroup(l.K, options.groupSize), format: options.format })),
    skipped,
    bytes: { before: 0, after: 0 },
  };
  for (const l of layers) {
    plan.bytes.before += 4 * l.K * l.N;
    plan.bytes.after += layerBytes(l.K, l.N, options);
  }
  if (options.format === 'qdq' && layers.length > 0) {
    const need = qdqOpset(options, layers);
    const up = planOpsetUpgrade(model, need);
    if (up.blockers.length > 0) {
      throw new UsageError(`--format qdq needs ai.onnx opset ${need}, and this model's opset ${up.from} cannot be raised to it (${up.blockers[0]})`, 'use --format matmulnbits');
    }
    if (up.to > up.from) plan.opset = { from: up.from, to: up.to };
  } else if (layers.length > 0) {
    plan.newDomains = model.opset('com.microsoft') === undefined ? ['com.microsoft'] : [];
  }
  if (layers.length === 0) {
    warn(`nothing to quantize: no MatMul/Gemm node with a constant float32 weight${options.exclude ? ' outside --exclude' : ''}`);
    return { model, modified: false, layers: [], warnings, plan };
  }
  if (options.dryRun) {
    return { model, modified: false, layers: plan.layers.map((l) => ({ name: l.name, op: l.op, bits: l.bits, storageBits: l.storageBits, groupSize: l.groupSize, format: l.format, params: l.K * l.N })), warnings, plan };
  }
  if (!ctx.data) {
    throw new UsageError('gptq needs calibration data', 'give --data <file> with samples of real inputs (random:<n> runs, but calibrates on noise)');
  }

  const params: GptqParams = { bits: options.bits, symmetric: options.symmetric, groupSize: options.groupSize, actOrder: options.actOrder, damp: options.damp, blockSize: options.blockSize };
  const results = new Map<LinearLayer, { q: QuantizedTensor; report: LayerReport }>();
  const summary = await collectHessians(
    model,
    layers,
    ctx.data,
    {
      sequential: options.sequential,
      backend: options.backend,
      label: 'gptq',
      onBlock: ({ block, stats, tick }) => {
        for (const l of block.layers) {
          const t0 = performance.now();
          const acc = stats.get(l)!;
          const w = weightMatrix(l);
          const r = gptqQuantize(w, l.K, l.N, acc.hessian(), params, l.name);
          setWeightMatrix(l, r.dequantized);
          const seconds = (performance.now() - t0) / 1000;
          const report: LayerReport = {
            name: l.name,
            op: l.op,
            weight: l.weight.name,
            bits: options.bits,
            storageBits,
            groupSize: effectiveGroup(l.K, options.groupSize),
            format: options.format,
            params: l.K * l.N,
            error: r.error,
            rtnError: r.rtnError,
            damp: r.damp,
            tokens: acc.samples,
            seconds: Math.round(seconds * 1000) / 1000,
          };
          if (r.deadInputs > 0) report.deadInputs = r.deadInputs;
          if (r.damp !== options.damp) warn(`gptq: '${l.name}': the Hessian needed dampening ${r.damp} (asked ${options.damp}) to be positive definite`);
          results.set(l, { q: r.q, report });
          ctx.logger.debug(`gptq: ${l.name} [${l.K}x${l.N}]: error ${r.error.toExponential(3)} (RTN ${r.rtnError.toExponential(3)}) in ${seconds.toFixed(2)} s`);
          tick(l.name);
        }
      },
    },
    ctx,
  );
  ctx.logger.debug(`gptq: ${summary.blocks} blocks, ${summary.samples} samples in ${summary.batches} batches; forward ${summary.forwardSeconds.toFixed(1)} s, GPTQ ${summary.compressSeconds.toFixed(1)} s`);

  // The final format, now that no block will run again.
  if (options.format === 'qdq' && plan.opset) {
    upgradeOpset(model, plan.opset.to);
    ctx.logger.info(`raised the opset from ${plan.opset.from} to ${plan.opset.to} for blocked DequantizeLinear`);
  }
  for (const l of layers) {
    const { q } = results.get(l)!;
    if (options.format === 'matmulnbits') {
      const bs = nbitsBlock(l.K, options.groupSize);
      // A group of all of K: blocks that hold the whole column (padded past K) or repeat its scale.
      const qm = bs >= l.K ? { ...q, layout: { kind: 'block' as const, axis: 0, blockSize: bs } } : reblock(q, bs);
      writeMatMulNBits(model, l.node, toMatMulNBits(qm), l.weight.name);
    } else {
      writeQdq(l, q);
    }
  }
  const reports = layers.map((l) => results.get(l)!.report);
  for (const s of skipped) reports.push({ name: s.node, op: s.op, bits: 32, params: s.params, note: s.reason });
  return { model, modified: true, layers: reports, warnings, plan };
}
