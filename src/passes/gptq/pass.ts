/**
 * `gptq`: the graph plumbing around solve.ts. Finds the MatMul, Gemm and Conv layers with constant
 * weights (a Conv as the [K = (C/G) kh kw, M] matrix its input patches multiply: tensor/im2col.ts), plans
 * each one's precision (the output head and first Conv at 8 bits per channel, as `quantize` does:
 * passes/shared/precision.ts), runs the block-by-block calibration driver (src/calibration/sequential.ts),
 * which hands each block's Hessians to GPTQ, and writes the results: com.microsoft.MatMulNBits for
 * MatMul/Gemm groups, ai.onnx DequantizeLinear (per channel, or blocked at opset 21) for Convs, 8-bit
 * per-channel layers and --format qdq.
 *
 * Memory stays bounded by one block whatever the model's size: a block's quantized values are written
 * into its weights only until the next block's inputs are computed from them (later blocks are
 * calibrated on the quantized model's activations); then the weights go back to their file (or stay as
 * they are in memory, for a model without external data) and only the packed codes are kept, a quarter
 * or an eighth of float32, until the final format is written once every block is done. Wide layers (an
 * LLM's output head) are solved in column chunks: GPTQ treats output channels independently.
 */
import { DataType } from '../../core/dtype.js';
import { NothingToDoError, UsageError } from '../../core/errors.js';
import type { Model } from '../../ir/model.js';
import { makeAttr } from '../../ir/attribute.js';
import { constantOf, floatTypeName, nothingToDoMessage, weightView } from '../../ir/weights.js';
import { collectHessians, findLinearLayers, moduleScope, setWeightMatrix, type LinearLayer, type SequentialSummary } from '../../calibration/sequential.js';
import type { HessianAccumulator } from '../../calibration/accumulators/hessian.js';
import type { Context } from '../../core/logger.js';
import type { RTensor } from '../../runtime/value.js';
import type { LayerReport } from '../../report/schema.js';
import { toMatMulNBits, type MatMulNBitsWeights, type QuantizedTensor } from '../../tensor/quant.js';
import { planOpsetUpgrade, upgradeOpset } from '../shared/opset.js';
import { keptAt8Bits } from '../shared/precision.js';
import { addDequantizeLinear, replaceWeight, reshapeAfter, writeMatMulNBits } from '../shared/writers.js';
import type { GptqOptions } from './options.js';
import { containerBits, errorSums, gptqFactor, gptqSolve, type GptqFactor, type GptqParams } from './solve.js';

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
  if (g >= K && bs >= K) return { ...q, layout: { kind: 'block', axis: 0, blockSize: bs } };
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

/** Bytes of a scale in a weight's float type (float16 and bfloat16 models keep 2-byte scales). */
function scaleBytes(dataType: number): number {
  return dataType === DataType.FLOAT ? 4 : 2;
}

/**
 * Bytes a layer's weight takes once written (codes, scales in the weight's float type, zero points):
 * MatMulNBits' blocks, or DequantizeLinear's codes.
 */
export function layerBytes(K: number, N: number, o: Pick<GptqOptions, 'bits' | 'groupSize' | 'symmetric' | 'format'>, dataType: number = DataType.FLOAT): number {
  const cb = containerBits(o.bits);
  const sb = scaleBytes(dataType);
  if (o.format === 'matmulnbits') {
    const bs = nbitsBlock(K, o.groupSize);
    const kBlocks = Math.ceil(K / bs);
    return N * kBlocks * ((bs * cb) / 8) + sb * N * kBlocks + (o.symmetric ? 0 : N * Math.ceil((kBlocks * cb) / 8));
  }
  const groups = Math.ceil(K / effectiveGroup(K, o.groupSize));
  return Math.ceil((K * N * cb) / 8) + sb * groups * N + (o.symmetric ? 0 : Math.ceil((groups * N * cb) / 8));
}

/** The context gptq runs in: logger, progress and the calibration batches (re-iterable feeds). */
export type GptqContext = Context & { data?: Iterable<Record<string, RTensor>> };

/** How one layer is quantized and written. */
interface LayerPlan {
  layer: LinearLayer;
  bits: number;
  /** Rows per scale (-1: per output channel). */
  groupSize: number;
  symmetric: boolean;
  /** MatMulNBits, or DequantizeLinear in the default domain or com.microsoft's (any opset, axis only). */
  format: 'matmulnbits' | 'qdq';
  domain: '' | 'com.microsoft';
  /** Why the layer differs from what the options asked (kept at 8 bits, ...). */
  reason?: string;
}

/** The plan --dry-run prints: each layer's bits, group, format and bytes. */
export interface GptqPlan {
  opset?: { from: number; to: number };
  newDomains?: string[];
  layers: { name: string; op: string; K: number; N: number; groups?: number; bits: number; storageBits: number; groupSize: number; format: string; reason?: string; module?: string }[];
  skipped: { node: string; op: string; reason: string; params: number }[];
  bytes: { before: number; after: number };
}

/** Makes a plan JSON-friendly (it already is). */
export function printablePlan(plan: GptqPlan): unknown {
  return plan;
}

/** What gptq returns (the CLI's PassOutcome): the model, per-layer reports, warnings and the plan. */
export interface GptqOutcome {
  model: Model;
  modified: boolean;
  layers: LayerReport[];
  warnings: string[];
  plan: GptqPlan;
  /** Where the time went, block by block (not part of the report). */
  timing?: SequentialSummary;
}

/** A layer's result kept until the final write: packed MatMulNBits weights, or one-byte codes. */
type Packed = { kind: 'matmulnbits'; w: MatMulNBitsWeights } | { kind: 'qdq'; q: QuantizedTensor };

/** The precision, grouping and format of each layer under the options (before any opset question). */
function planLayer(l: LinearLayer, o: GptqOptions): LayerPlan {
  const reason = keptAt8Bits(l.role, l.op, { bits: o.bits, keepSensitive: o.keepSensitive, convNamed: o.opsGiven && o.ops.includes('Conv') });
  if (reason) {
    // As quantize: a MatMul/Gemm head kept at 8 bits keeps the asked groups as 8-bit MatMulNBits (compact,
    // and onnxruntime runs it without materialising a float copy of the weight); a Conv per channel.
    if (l.op !== 'Conv' && o.format === 'matmulnbits' && !l.layout.transposed) return { layer: l, bits: 8, groupSize: o.groupSize, symmetric: true, format: 'matmulnbits', domain: '', reason };
    return { layer: l, bits: 8, groupSize: -1, symmetric: true, format: 'qdq', domain: '', reason };
  }
  return { layer: l, bits: o.bits, groupSize: o.groupSize, symmetric: o.symmetric, format: l.op === 'Conv' ? 'qdq' : o.format, domain: '' };
}

/** Whether a DequantizeLinear plan is blocked (a group shorter than K). */
function blocked(p: LayerPlan): boolean {
  return effectiveGroup(p.layer.K, p.groupSize) < p.layer.K;
}

/** The ai.onnx opset a DequantizeLinear plan needs: 21 for 4-bit or blocked, 19 for float16 scales, else 13. */
function dqOpset(p: LayerPlan): number {
  if (containerBits(p.bits) === 4 || blocked(p)) return 21;
  return p.layer.dataType === DataType.FLOAT ? 13 : 19;
}

/**
 * Settles the plans against the model's opset: raises it where the DequantizeLinear plans need it and
 * nothing blocks that; otherwise 8-bit MatMul/Gemm layers become MatMulNBits, per-channel Convs use
 * com.microsoft.DequantizeLinear (an axis at any opset), blocked Convs become 8-bit per channel there,
 * and MatMul/Gemm layers the user asked as qdq are a usage error. Returns the opset raise, if any.
 */
function settleOpset(model: Model, plans: LayerPlan[]): { from: number; to: number } | undefined {
  const dq = plans.filter((p) => p.format === 'qdq');
  if (dq.length === 0) return undefined;
  const need = Math.max(...dq.map(dqOpset));
  const up = planOpsetUpgrade(model, need);
  if (up.blockers.length === 0) return up.to > up.from ? { from: up.from, to: up.to } : undefined;
  const current = up.from;
  const why = `the model's opset ${current} cannot be raised (${up.blockers[0]})`;
  for (const p of dq) {
    if (dqOpset(p) <= current) continue;
    if (p.layer.op !== 'Conv' && !p.reason) {
      throw new UsageError(`--format qdq needs ai.onnx opset ${dqOpset(p)}, and ${why}`, 'use --format matmulnbits');
    }
    if (p.layer.op !== 'Conv') {
      if (p.layer.layout.transposed) throw new UsageError(`'${p.layer.name}': a Gemm with transA = 1 needs DequantizeLinear at opset ${dqOpset(p)}, and ${why}`, `keep it in float with --exclude '${p.layer.name}'`);
      p.format = 'matmulnbits';
      continue;
    }
    p.domain = 'com.microsoft';
    if (containerBits(p.bits) === 4 || blocked(p)) {
      p.reason = `8-bit per channel, as ${why} for ${p.bits}-bit blocked DequantizeLinear`;
      p.bits = 8;
      p.groupSize = -1;
      p.symmetric = true;
    }
  }
  const still = dq.filter((p) => p.domain === '' && p.format === 'qdq');
  const need2 = still.length > 0 ? Math.max(...still.map(dqOpset)) : 0;
  return need2 > current ? { from: current, to: need2 } : undefined;
}

/**
 * Columns [n0, n1) of a layer's [K, N] weight matrix as a float32 copy, read from the stored weight
 * (any float type; a Gemm's transB and alpha and a Conv's [M, K] layout undone) without copying the rest.
 */
function weightColumns(l: LinearLayer, src: Float32Array, n0: number, n1: number): Float32Array {
  const { K, N } = l;
  const n = n1 - n0;
  const out = new Float32Array(K * n);
  const rowsAreOutputs = l.op === 'Conv' || (l.op === 'Gemm' && l.node.attrInt('transB', 0) !== 0);
  if (rowsAreOutputs) {
    // Stored [N, K]: column j of the matrix is stored row n0 + j.
    for (let j = 0; j < n; j++) {
      const base = (n0 + j) * K;
      for (let k = 0; k < K; k++) out[k * n + j] = src[base + k]!;
    }
  } else {
    for (let k = 0; k < K; k++) out.set(src.subarray(k * N + n0, k * N + n1), k * n);
  }
  const alpha = l.op === 'Gemm' ? l.node.attrFloat('alpha', 1) : 1;
  if (alpha !== 1) for (let i = 0; i < out.length; i++) out[i] = out[i]! * alpha;
  return out;
}

/** Values per column chunk of a wide layer (64 MB of float32): GPTQ solves output channels independently. */
const chunkValues = 1 << 24;

/** The one-byte array codes of this width and signedness fit in. */
function codeArray(signed: boolean, n: number): Int8Array | Uint8Array {
  return signed ? new Int8Array(n) : new Uint8Array(n);
}

/**
 * GPTQ-quantizes one layer from its input statistics: group by group (a grouped Conv's output channels
 * read only their group's inputs) and, within a group, in column chunks. Returns the packed result, the
 * dequantized matrix when `keepDequantized` (the next blocks are calibrated on it), and the error sums.
 */
function quantizeLayer(
  p: LayerPlan,
  factors: GptqFactor[],
  hessians: Float32Array[],
  options: GptqOptions,
  keepDequantized: boolean,
): { packed: Packed; dequantized?: Float32Array; errors: { den: number; gptq: number; rtn: number; channels: number } } {
  const l = p.layer;
  const { K, N } = l;
  const params: GptqParams = { bits: p.bits, symmetric: p.symmetric, groupSize: p.groupSize, actOrder: options.actOrder, damp: options.damp, blockSize: options.blockSize };
  const t = constantOf(l.weight)!;
  const src = weightView(t);
  const g = effectiveGroup(K, p.groupSize);
  const groups = Math.ceil(K / g);
  const cb = containerBits(p.bits);
  const signed = p.symmetric;
  // The packed destination.
  const bs = p.format === 'matmulnbits' ? nbitsBlock(K, p.groupSize) : 0;
  let nbits: MatMulNBitsWeights | undefined;
  let codes: Int8Array | Uint8Array | undefined;
  let scales: Float32Array | undefined;
  let zeroPoints: Int32Array | null = null;
  if (p.format === 'matmulnbits') {
    const kBlocks = Math.ceil(K / bs);
    const blob = (bs * cb) / 8;
    const zpRow = Math.ceil((kBlocks * cb) / 8);
    nbits = { K, N, bits: cb, blockSize: bs, kBlocks, B: new Uint8Array(N * kBlocks * blob), scales: new Float32Array(N * kBlocks), zeroPoints: signed ? null : new Uint8Array(N * zpRow) };
  } else {
    // Codes [K, N] in the matrix's order; written [N, K] (Conv, Gemm transB) at the end.
    codes = codeArray(signed, K * N);
    scales = new Float32Array(groups * N);
    zeroPoints = signed ? null : new Int32Array(groups * N);
  }
  const deq = keepDequantized ? new Float32Array(K * N) : undefined;
  const errors = { den: 0, gptq: 0, rtn: 0, channels: 0 };
  const perGroup = N / l.groups;
  const chunks = Math.max(1, Math.ceil((K * perGroup) / chunkValues));
  const width = Math.ceil(perGroup / chunks);
  // Output channels whose error is measured: at most 256, spread evenly.
  const measured = new Set<number>();
  const m = Math.min(N, 256);
  for (let i = 0; i < m; i++) measured.add(Math.floor((i * N) / m));
  for (let gi = 0; gi < l.groups; gi++) {
    for (let n0 = gi * perGroup; n0 < (gi + 1) * perGroup; n0 += width) {
      const n1 = Math.min((gi + 1) * perGroup, n0 + width);
      const n = n1 - n0;
      const w = weightColumns(l, src, n0, n1);
      const r = gptqSolve(w, K, n, factors[gi]!, params);
      const cols: number[] = [];
      for (let j = 0; j < n; j++) if (measured.has(n0 + j)) cols.push(j);
      if (cols.length > 0) {
        const e = errorSums(w, r.dequantized, hessians[gi]!, K, n, cols, params);
        errors.den += e.den;
        errors.gptq += e.gptq;
        errors.rtn += e.rtn;
        errors.channels += cols.length;
      }
      if (deq) for (let k = 0; k < K; k++) deq.set(r.dequantized.subarray(k * n, (k + 1) * n), k * N + n0);
      if (nbits) {
        const part = toMatMulNBits(reblock(r.q, bs));
        const blob = nbits.kBlocks * ((bs * cb) / 8);
        nbits.B.set(part.B, n0 * blob);
        nbits.scales.set(part.scales, n0 * nbits.kBlocks);
        if (nbits.zeroPoints && part.zeroPoints) nbits.zeroPoints.set(part.zeroPoints, n0 * (part.zeroPoints.length / n));
      } else {
        for (let k = 0; k < K; k++) for (let j = 0; j < n; j++) codes![k * N + n0 + j] = r.q.codes[k * n + j]!;
        for (let gr = 0; gr < groups; gr++) {
          for (let j = 0; j < n; j++) {
            scales![gr * N + n0 + j] = r.q.scales[gr * n + j]!;
            if (zeroPoints) zeroPoints[gr * N + n0 + j] = r.q.zeroPoints![gr * n + j]!;
          }
        }
      }
    }
  }
  let packed: Packed;
  if (nbits) packed = { kind: 'matmulnbits', w: nbits };
  else {
    packed = {
      kind: 'qdq',
      q: { dims: [K, N], bits: cb, signed, layout: { kind: 'block', axis: 0, blockSize: g }, codes: codes!, scales: scales!, zeroPoints, scaleDims: [groups, N] },
    };
  }
  return { packed, dequantized: deq, errors };
}

/** [K, N] codes blocked along axis 0 -> [N, K] codes blocked along axis 1 (a Gemm's transB = 1, a Conv's [M, K]). */
function transposeQuantized(q: QuantizedTensor): QuantizedTensor {
  const [K, N] = q.dims as [number, number];
  const codes = new (q.codes.constructor as new (n: number) => Int32Array | Int8Array | Uint8Array)(K * N);
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

/**
 * A quantized [K, N] matrix written as DequantizeLinear feeding its reader: a Gemm's B layout restored
 * (alpha, folded into the scales, becomes 1), a Conv's [M, K] matrix reshaped to its kernel when blocked.
 */
function writeQdq(model: Model, p: LayerPlan, q0: QuantizedTensor): void {
  const l = p.layer;
  const node = l.node;
  const floatType = l.dataType;
  let q = q0;
  const rowsAreOutputs = l.op === 'Conv' || (l.op === 'Gemm' && node.attrInt('transB', 0) !== 0);
  if (l.op === 'Gemm' && node.attrFloat('alpha', 1) !== 1) node.setAttr(makeAttr('alpha', 1, 'float'));
  if (rowsAreOutputs) q = transposeQuantized(q);
  const K = l.K;
  const perChannel = q.layout.kind === 'block' && q.layout.blockSize >= K;
  if (perChannel) {
    // One group spans K: the per-axis layout (opset 13 for 8 bits) says the same with fewer words.
    const axis = rowsAreOutputs ? 0 : 1;
    q = { ...q, layout: { kind: 'axis', axis }, scaleDims: [l.N] };
  }
  const dims = constantOf(l.weight)!.dims.slice();
  // A Conv's codes keep its weight's shape per channel; blocked, they stay the [M, K] matrix and a
  // Reshape restores the kernel's shape.
  if (l.op === 'Conv' && perChannel) q = { ...q, dims };
  let out = addDequantizeLinear(l.weight.graph, q, { name: l.weight.name, domain: p.domain, floatType });
  if (l.op === 'Conv' && !perChannel) out = reshapeAfter(out, dims, l.weight.name, floatType);
  replaceWeight(l.weight, out);
  if (p.domain) model.ensureOpset(p.domain, 1);
}

/**
 * GPTQ-quantizes the model's MatMul, Gemm and Conv weights in place, block by block, from the calibration
 * batches in `ctx.data`. With `dryRun` nothing is computed and the plan says what would happen. Throws
 * NothingToDoError (exit 1) when no weight can be quantized, UsageError without data, or when --format
 * qdq needs an opset the model cannot be raised to.
 */
export async function gptq(model: Model, options: GptqOptions, ctx: GptqContext): Promise<GptqOutcome> {
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    ctx.logger.warn(m);
  };
  const found = findLinearLayers(model, { exclude: options.exclude, ops: ['MatMul', 'Gemm', 'Conv'] });
  const skipped = found.skipped.map((s) => ({ node: s.node.name, op: s.node.opType, reason: s.reason, params: constantOf(s.node.input(1))?.size ?? 0 }));
  const layers: LinearLayer[] = [];
  for (const l of found.layers) {
    if (!options.ops.includes(l.op)) skipped.push({ node: l.name, op: l.op, params: l.K * l.N, reason: `${l.op} is not in --ops` });
    else if (l.op === 'Gemm' && l.layout.transposed && options.format === 'matmulnbits') {
      skipped.push({ node: l.name, op: l.op, params: l.K * l.N, reason: 'a Gemm with transA = 1, which MatMulNBits cannot express (use --format qdq)' });
    } else layers.push(l);
  }
  for (const s of skipped) ctx.logger.debug(`gptq: leaving '${s.node}' in float: ${s.reason}`);
  if (layers.length === 0) {
    throw new NothingToDoError(nothingToDoMessage('quantize', `${options.ops.join('/')} weights`, skipped), options.exclude || options.opsGiven ? 'check --exclude and --ops' : undefined);
  }
  const plans = layers.map((l) => planLayer(l, options));
  const opset = settleOpset(model, plans);
  const plan: GptqPlan = {
    layers: plans.map((p) => {
      const l = p.layer;
      const row: GptqPlan['layers'][number] = { name: l.name, op: l.op, K: l.K, N: l.N, bits: p.bits, storageBits: containerBits(p.bits), groupSize: effectiveGroup(l.K, p.groupSize), format: p.format };
      if (l.groups > 1) row.groups = l.groups;
      if (p.reason) row.reason = p.reason;
      const scope = moduleScope(l.node);
      if (scope) row.module = scope;
      return row;
    }),
    skipped,
    bytes: { before: 0, after: 0 },
  };
  if (opset) plan.opset = opset;
  const domains = new Set<string>();
  for (const p of plans) if (p.format === 'matmulnbits' || p.domain === 'com.microsoft') domains.add('com.microsoft');
  plan.newDomains = [...domains].filter((d) => model.opset(d) === undefined);
  for (const p of plans) {
    const l = p.layer;
    plan.bytes.before += (l.dataType === DataType.FLOAT ? 4 : 2) * l.K * l.N;
    plan.bytes.after += layerBytes(l.K, l.N, { bits: p.bits as GptqOptions['bits'], groupSize: p.groupSize, symmetric: p.symmetric, format: p.format }, l.dataType);
  }
  const types = new Set(layers.map((l) => l.dataType));
  if (!types.has(DataType.FLOAT)) ctx.logger.debug(`gptq: ${[...types].map(floatTypeName).join('/')} weights, computed in float32, scales written in their own type`);
  if (options.dryRun) {
    return { model, modified: false, layers: plan.layers.map((l) => ({ name: l.name, op: l.op, bits: l.bits, storageBits: l.storageBits, groupSize: l.groupSize, format: l.format, params: l.K * l.N })), warnings, plan };
  }
  if (!ctx.data) {
    throw new UsageError('gptq needs calibration data', 'give --data <file> with samples of real inputs (random:<n> runs, but calibrates on noise)');
  }

  const byLayer = new Map<LinearLayer, LayerPlan>(plans.map((p) => [p.layer, p]));
  const results = new Map<LinearLayer, { packed: Packed; report: LayerReport }>();
  const summary = await collectHessians(
    model,
    layers,
    ctx.data,
    {
      sequential: options.sequential,
      backend: options.backend,
      label: 'gptq',
      onBlock: ({ block, stats, tick, index, count }) => {
        // One factor per distinct statistic (q, k and v share theirs), per group.
        const factors = new Map<HessianAccumulator, { factors: GptqFactor[]; hessians: Float32Array[]; seconds: number }>();
        const last = index === count - 1;
        for (const l of block.layers) {
          const t0 = performance.now();
          const p = byLayer.get(l)!;
          const acc = stats.get(l)!;
          let f = factors.get(acc);
          if (!f) {
            const hessians = acc.groupHessians();
            if (hessians.length !== l.groups) throw new Error(`${l.name}: ${hessians.length} Hessians for ${l.groups} groups`);
            f = { factors: hessians.map((h) => gptqFactor(h, l.K, options, l.name)), hessians, seconds: 0 };
            f.seconds = (performance.now() - t0) / 1000;
            factors.set(acc, f);
          }
          const r = quantizeLayer(p, f.factors, f.hessians, options, !last);
          if (r.dequantized) setWeightMatrix(l, r.dequantized);
          else constantOf(l.weight)?.release();
          const seconds = (performance.now() - t0) / 1000;
          const ratio = (num: number) => (r.errors.den <= 0 ? (num <= 0 ? 0 : Infinity) : Math.max(0, num) / r.errors.den);
          const damp = Math.max(...f.factors.map((x) => x.damp));
          const dead = f.factors.reduce((a, x) => a + x.deadInputs, 0);
          const report: LayerReport = {
            name: l.name,
            op: l.op,
            weight: l.weight.name,
            method: 'gptq',
            bits: p.bits,
            storageBits: containerBits(p.bits),
            groupSize: effectiveGroup(l.K, p.groupSize),
            format: p.format === 'matmulnbits' ? 'matmulnbits' : p.domain ? 'com.microsoft.dequantizelinear' : 'dequantizelinear',
            params: l.K * l.N,
            error: ratio(r.errors.gptq),
            rtnError: ratio(r.errors.rtn),
            damp,
            tokens: acc.samples,
            seconds: Math.round(seconds * 1000) / 1000,
          };
          if (r.errors.channels < l.N) report.errorChannels = r.errors.channels;
          if (l.groups > 1) report.groups = l.groups;
          if (p.reason) report.note = p.reason;
          const scope = moduleScope(l.node);
          if (scope) report.module = scope;
          if (l.dataType !== DataType.FLOAT) report.dataType = floatTypeName(l.dataType);
          if (dead > 0) report.deadInputs = dead;
          if (damp !== options.damp) warn(`gptq: '${l.name}': the Hessian needed dampening ${damp} (asked ${options.damp}) to be positive definite`);
          results.set(l, { packed: r.packed, report });
          ctx.logger.debug(`gptq: ${l.name} [${l.K}x${l.N}${l.groups > 1 ? `, ${l.groups} groups` : ''}] ${p.bits} bits: error ${report.error!.toExponential(3)} (RTN ${(report.rtnError as number).toExponential(3)}) in ${seconds.toFixed(2)} s`);
          tick(l.name);
        }
      },
      afterBlock: ({ block }) => {
        // The block's inputs to the next one are computed: its weights go back to their file (nothing
        // reads them again; the final write replaces them), so that only packed codes stay in memory.
        for (const l of block.layers) constantOf(l.weight)?.revert();
      },
    },
    ctx,
  );
  ctx.logger.debug(`gptq: ${summary.blocks} blocks, ${summary.samples} samples in ${summary.batches} batches; forward ${summary.forwardSeconds.toFixed(1)} s, GPTQ ${summary.compressSeconds.toFixed(1)} s`);

  const reports = plans.map((p) => results.get(p.layer)!.report);
  // The final format, now that no block will run again.
  if (plan.opset) {
    upgradeOpset(model, plan.opset.to);
    ctx.logger.info(`raised the opset from ${plan.opset.from} to ${plan.opset.to} for DequantizeLinear`);
  }
  for (const p of plans) {
    const l = p.layer;
    const { packed } = results.get(l)!;
    if (packed.kind === 'matmulnbits') writeMatMulNBits(model, l.node, packed.w, l.weight.name, undefined, l.dataType);
    else writeQdq(model, p, packed.q);
    // The written tensors hold the codes now: the packed copy can go.
    results.delete(l);
  }
  for (const s of skipped) reports.push({ name: s.node, op: s.op, bits: 32, params: s.params, skipped: s.reason });
  return { model, modified: true, layers: reports, warnings, plan, timing: summary };
}
