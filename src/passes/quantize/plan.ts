/**
 * The quantization plan: for every constant weight, the precision, scale layout and storage format it
 * gets and why (mixed-precision defaults, exclusions), the opset the result needs, and the bytes before
 * and after. `--dry-run` prints it; the pass carries it out.
 */
import { bitsPerElement, DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import type { Model } from '../../ir/model.js';
import { findWeights, floatTypeName, type WeightRole, type WeightSite } from '../../ir/weights.js';
import { planOpsetUpgrade, type OpsetUpgradePlan } from '../shared/opset.js';
import { keptAt8Bits } from '../shared/precision.js';
import { scaleShape, type QuantLayout } from '../../tensor/quant.js';
import { dequantizeBytes, layoutFor, matmulNBitsBytes, nbitsBlockSize } from './solve.js';
import type { Granularity, QuantizeMode, QuantizeOptions } from './options.js';

/** How a weight is stored after the pass. */
export type WeightFormat = 'float' | 'float16' | 'matmulnbits' | 'gatherblockquantized' | 'dequantizelinear' | 'com.microsoft.dequantizelinear' | 'integer' | 'qdq';

/** One weight (an initializer, possibly read by several nodes) and what happens to it. */
export interface WeightDecision {
  /** The node that reads it (the first one when several do). */
  node: string;
  op: string;
  weight: string;
  role: WeightRole;
  /**
   * The float type the weight is stored in (float32, float16, bfloat16): its scales, and the values its
   * DequantizeLinear gives back, are of this type, so a float16 model stays a float16 model.
   */
  floatType: number;
  /** 'float' when it stays float (excluded, or not an op that is quantized). */
  bits: 4 | 8 | 16 | 'float';
  granularity?: Granularity;
  /** Group length, for granularity 'group' (MatMulNBits' block_size). */
  groupSize?: number;
  symmetric?: boolean;
  format: WeightFormat;
  /** Why it differs from what the options asked (kept at 8 bits, excluded, ...). */
  reason?: string;
  params: number;
  bytes: { before: number; after: number };
  /** Internal: the sites and scale layout (not part of the printed plan). */
  sites: WeightSite[];
  layout?: QuantLayout;
  /**
   * Internal: the 2-D view [output channels, everything else] a Conv weight is quantized in when it is
   * grouped (groups then run over input channels and kernel taps together; a Reshape restores the shape).
   */
  matrixDims?: number[];
}

export interface QuantizePlan {
  mode: QuantizeMode;
  weights: WeightDecision[];
  /** The ai.onnx opset raise the result needs (with the nodes rewritten for it), if any. */
  opset?: OpsetUpgradePlan;
  /** Opset domains the result imports that the input did not (e.g. com.microsoft). */
  newDomains: string[];
  /** Nodes that read constant weights left alone, with the reason. */
  skipped: { node: string; op: string; reason: string }[];
  /** Weight bytes before and after (each weight in its own float type before). */
  bytes: { before: number; after: number };
  /** Activation tensors that get Q/DQ (static) or are quantized at run time (dynamic). */
  activations?: number;
}

/** The decision for one weight under the options, before any opset fallback. */
function decide(sites: WeightSite[], options: QuantizeOptions, mode: QuantizeMode): WeightDecision {
  const site = sites[0]!;
  // Float16 and bfloat16 weights take 2 bytes, and so do the scales written for them.
  const floatBytes = bitsPerElement(site.dataType) / 8;
  const base: WeightDecision = {
    node: site.node.name,
    op: site.op,
    weight: site.value.name,
    role: sites.some((s) => s.role === 'head') ? 'head' : site.role,
    floatType: site.dataType,
    bits: 'float',
    format: 'float',
    params: site.params,
    bytes: { before: floatBytes * site.params, after: floatBytes * site.params },
    sites,
  };
  const excluded = options.exclude ? sites.find((s) => options.exclude!.test(s.node.name)) : undefined;
  if (excluded) return { ...base, reason: `excluded by --exclude (node '${excluded.node.name}')` };
  if (!sites.every((s) => options.ops.includes(s.op))) {
    return { ...base, reason: `${sites.find((s) => !options.ops.includes(s.op))!.op} is not in --ops` };
  }
  let bits: 4 | 8 = options.bits;
  let granularity = options.granularity;
  // The output head, embeddings, first Conv and (unless --ops names Conv) every Conv stay at 8 bits.
  const reason = keptAt8Bits(base.role, site.op, { bits, keepSensitive: options.keepSensitive, convNamed: options.explicit.has('ops') });
  if (reason) {
    bits = 8;
    // A head or an embedding table kept at 8 bits keeps the asked groups where the weight-only formats
    // take them (8-bit MatMulNBits, GatherBlockQuantized: compact and fast in onnxruntime, which would
    // otherwise materialise a float copy of a DequantizeLinear'd table on every run); else per channel.
    const blocked = base.role !== 'body' && mode === 'weight-only' && granularity === 'group' && (site.op === 'MatMul' || site.op === 'Gemm' || site.op === 'Gather');
    granularity = blocked ? granularity : 'channel';
  }
  // Convolutions are quantized per output channel (their reduction spans channels and kernel taps).
  const symmetric = bits === options.bits ? options.symmetric : true;
  const dims = site.tensor.dims;
  const nbitsOk =
    mode === 'weight-only' &&
    granularity === 'group' &&
    !site.shared &&
    (site.op === 'MatMul' || (site.op === 'Gemm' && site.node.attrInt('transA', 0) === 0)) &&
    options.format !== 'qdq' &&
    (options.format === 'matmulnbits' || isPow2AtLeast16(options.groupSize));
  const integerOk = !site.shared && (site.op === 'MatMul' || site.op === 'Conv' || (site.op === 'Gemm' && site.node.attrInt('transA', 0) === 0));
  if (mode === 'dynamic' && integerOk && site.op === 'Conv' && !options.explicit.has('ops')) {
    // Run-time quantization of convolution inputs costs CNNs dearly (ppocr-rec-v4: a quarter of the
    // lines read differently; onnxruntime advises static quantization for CNNs): by default their
    // weights are stored in int8 and dequantized, and the activations stay float.
    const layout = layoutFor('channel', site.channelAxis, site.reductionAxis, options.groupSize);
    return {
      ...base,
      bits: 8,
      granularity: 'channel',
      symmetric: true,
      format: 'dequantizelinear',
      reason: 'Conv weights int8, activations float with --dynamic (name Conv in --ops for ConvInteger)',
      layout,
      bytes: { before: base.bytes.before, after: dequantizeBytes(site.params, dims[0]!, 8, true, false, floatBytes) },
    };
  }
  if (mode === 'dynamic' && integerOk) {
    const layout = layoutFor(granularity === 'group' ? 'channel' : granularity, site.channelAxis, site.reductionAxis, options.groupSize);
    const n = layout.kind === 'tensor' ? 1 : dims[site.channelAxis]!;
    // The integer ops' scales are float32 whatever the model's type (they scale an int32 product).
    return { ...base, bits: 8, granularity, symmetric: true, format: 'integer', reason, layout, bytes: { before: base.bytes.before, after: site.params + 4 * n } };
  }
  // Block-quantized along `axis` in blocks of `bs`, stored as MatMulNBits stores a [K, N] weight.
  const blocked = (format: 'matmulnbits' | 'gatherblockquantized', axis: number, bs: number, K: number, N: number): WeightDecision => ({
    ...base,
    bits,
    granularity,
    groupSize: bs,
    symmetric,
    format,
    reason,
    layout: { kind: 'block', axis, blockSize: bs },
    bytes: { before: base.bytes.before, after: matmulNBitsBytes(K, N, bits, bs, symmetric, floatBytes) },
  });
  if (nbitsOk) {
    const K = dims[site.reductionAxis]!;
    return blocked('matmulnbits', 0, nbitsBlockSize(K, options.groupSize), K, dims[site.channelAxis]!);
  }
  const gbq = gatherBlock(site, mode, granularity, options);
  if (gbq !== undefined) {
    // The table [V, D] as MatMulNBits would store its transpose: V rows of D codes in blocks, a scale per block.
    const [V, D] = dims as [number, number];
    return blocked('gatherblockquantized', 1, gbq, D, V);
  }
  // A grouped Conv weight [O, I, kh, kw] is quantized as the matrix [O, I * kh * kw] in groups along its
  // rows: each group spans input channels and kernel taps, so a depthwise 3x3 kernel is one group (not
  // nine scales for nine weights, which is what blocks along the input-channel axis alone would give).
  const matrixDims = site.op === 'Conv' && granularity === 'group' ? [dims[0]!, dims.slice(1).reduce((a, b) => a * b, 1)] : undefined;
  const layout = matrixDims ? ({ kind: 'block', axis: 1, blockSize: options.groupSize } as const) : layoutFor(granularity, site.channelAxis, site.reductionAxis, options.groupSize);
  const nScales = scaleShape(matrixDims ?? dims, layout).reduce((a, b) => a * b, 1);
  return {
    ...base,
    matrixDims,
    bits,
    granularity,
    groupSize: granularity === 'group' ? options.groupSize : undefined,
    symmetric,
    format: 'dequantizelinear',
    reason,
    layout,
    bytes: { before: base.bytes.before, after: dequantizeBytes(site.params, nScales, bits, symmetric, !symmetric, floatBytes) },
  };
}

/**
 * The block size com.microsoft.GatherBlockQuantized gets for an embedding table [V, D] (weight-only, in
 * groups, not shared with a MatMul head): the group size when it is a power of two >= 16 dividing D, else
 * undefined (the table then goes through DequantizeLinear).
 */
function gatherBlock(site: WeightSite, mode: QuantizeMode, granularity: Granularity, options: QuantizeOptions): number | undefined {
  if (site.op !== 'Gather' || site.shared || mode !== 'weight-only' || granularity !== 'group' || options.format === 'qdq') return undefined;
  const D = site.tensor.dims[1]!;
  const bs = options.groupSize;
  return isPow2AtLeast16(bs) && D % bs === 0 ? bs : undefined;
}

function isPow2AtLeast16(n: number): boolean {
  return n >= 16 && (n & (n - 1)) === 0;
}

/**
 * The ai.onnx opset a DequantizeLinear decision needs: 10 per tensor, 13 per axis, 21 for blocks and
 * 4-bit types, and at least 19 for a float16 / bfloat16 scale (DequantizeLinear-19 added them).
 */
function opsetNeeded(d: WeightDecision): number {
  if (d.format !== 'dequantizelinear' || !d.layout) return 0;
  const layoutNeeds = d.bits === 4 || d.layout.kind === 'block' ? 21 : d.layout.kind === 'axis' ? 13 : 10;
  return d.floatType === DataType.FLOAT ? layoutNeeds : Math.max(19, layoutNeeds);
}


/**
 * Plans the weights of `model` under `options` for a resolved mode. When the DequantizeLinear layouts
 * need a newer opset than the model has and raising it is blocked (old ops that changed meaning), blocks
 * become MatMulNBits where possible or per-channel otherwise, 4-bit non-MatMul weights go to 8 bits, and
 * the rest use com.microsoft's DequantizeLinear, which takes an axis at any opset.
 */
export function planWeights(model: Model, options: QuantizeOptions, mode: QuantizeMode): QuantizePlan {
  const { sites, skipped } = findWeights(model);
  const byValue = new Map<unknown, WeightSite[]>();
  for (const s of sites) {
    const list = byValue.get(s.value) ?? [];
    list.push(s);
    byValue.set(s.value, list);
  }
  const weights = [...byValue.values()].map((group) => decide(group, options, mode));
  // DynamicQuantizeLinear, which the integer ops of dynamic quantization read, exists from opset 11.
  const integer = weights.some((d) => d.format === 'integer');
  const needed = Math.max(integer ? 11 : 0, ...weights.map(opsetNeeded));
  const current = model.opset('') ?? 1;
  let opset: OpsetUpgradePlan | undefined;
  if (needed > current) {
    opset = planOpsetUpgrade(model, needed);
    if (opset.blockers.length > 0 && integer) {
      throw new ModelError(
        `dynamic quantization needs opset 11 (DynamicQuantizeLinear) and the model's opset ${current} cannot be raised: ${opset.blockers[0]}`,
        'use --weight-only, which can write com.microsoft ops at any opset',
      );
    }
    if (opset.blockers.length > 0) {
      for (let i = 0; i < weights.length; i++) {
        const d = weights[i]!;
        if (opsetNeeded(d) <= current) continue;
        weights[i] = fallback(d, options, current);
      }
      const still = Math.max(0, ...weights.map(opsetNeeded));
      opset = still > current ? opset : undefined;
    }
  }
  const newDomains = new Set<string>();
  for (const d of weights) {
    if (d.format === 'matmulnbits' || d.format === 'gatherblockquantized' || d.format === 'com.microsoft.dequantizelinear') newDomains.add('com.microsoft');
  }
  for (const d of [...newDomains]) if (model.opset(d) !== undefined) newDomains.delete(d);
  const bytes = weights.reduce((acc, d) => ({ before: acc.before + d.bytes.before, after: acc.after + d.bytes.after }), { before: 0, after: 0 });
  return { mode, weights, opset, newDomains: [...newDomains], skipped: skipped.map((s) => ({ node: s.node.name, op: s.node.opType, reason: s.reason })), bytes };
}

/** A decision rewritten to avoid an opset the model cannot be raised to. */
function fallback(d: WeightDecision, options: QuantizeOptions, current: number): WeightDecision {
  const site = d.sites[0]!;
  const dims = site.tensor.dims;
  const why = `the model's opset ${current} cannot be raised safely`;
  if (d.layout?.kind === 'block' && !site.shared && (site.op === 'MatMul' || (site.op === 'Gemm' && site.node.attrInt('transA', 0) === 0))) {
    const K = dims[site.reductionAxis]!;
    const N = dims[site.channelAxis]!;
    const bs = nbitsBlockSize(K, isPow2AtLeast16(options.groupSize) ? options.groupSize : 2 ** Math.ceil(Math.log2(Math.max(16, options.groupSize))));
    return {
      ...d,
      format: 'matmulnbits',
      groupSize: bs,
      layout: { kind: 'block', axis: 0, blockSize: bs },
      reason: d.reason ?? `MatMulNBits, as ${why} for blocked DequantizeLinear`,
      bytes: { before: d.bytes.before, after: matmulNBitsBytes(K, N, d.bits as number, bs, d.symmetric ?? true, bitsPerElement(d.floatType) / 8) },
    };
  }
  const bits = 8;
  const layout: QuantLayout = d.layout?.kind === 'tensor' ? d.layout : { kind: 'axis', axis: site.channelAxis };
  const nScales = scaleShape(dims, layout).reduce((a, b) => a * b, 1);
  const symmetric = d.bits === 8 ? (d.symmetric ?? true) : true;
  const changed = d.bits !== bits || d.layout?.kind !== layout.kind;
  return {
    ...d,
    bits,
    granularity: layout.kind === 'tensor' ? 'tensor' : 'channel',
    groupSize: undefined,
    symmetric,
    layout,
    format: 'com.microsoft.dequantizelinear',
    reason: changed ? `8-bit per channel, as ${why} for ${d.bits}-bit ${d.granularity} DequantizeLinear` : d.reason,
    // com.microsoft's DequantizeLinear takes float16 scales but not bfloat16: those are float32, and a Cast follows.
    bytes: { before: d.bytes.before, after: dequantizeBytes(site.params, nScales, bits, symmetric, !symmetric, d.floatType === DataType.FLOAT16 ? 2 : 4) },
  };
}

/** The plan without the internal links, for printing (--dry-run) and the report. */
export function printablePlan(plan: QuantizePlan): Record<string, unknown> {
  return {
    mode: plan.mode,
    opset: plan.opset ? { from: plan.opset.from, to: plan.opset.to, rewrites: plan.opset.rewrites } : undefined,
    newDomains: plan.newDomains,
    bytes: plan.bytes,
    activations: plan.activations,
    weights: plan.weights.map(({ sites: _s, layout: _l, matrixDims: _m, floatType, ...rest }) => ({ ...rest, dataType: floatTypeName(floatType) })),
    skipped: plan.skipped,
  };
}
