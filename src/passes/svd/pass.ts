/**
 * `compress svd`, the graph side: find the factorizable layers (MatMul and Gemm with a constant 2-D
 * weight, 2-D Conv with group 1), gather X Xᵀ of their inputs when calibration data is given, pick ranks
 * (solve.ts), and rewrite each chosen layer as two:
 *
 * - MatMul  Y = X W          ->  MatMul(MatMul(X, A), B)
 * - Gemm    Y = α op(X) op(W) + β C  ->  Gemm(MatMul(op(X), α A), B, C) with transB and β kept (B stored
 *   transposed when transB = 1), so the bias stays on the second factor.
 * - Conv, channel SVD (Zhang et al. 2015): kh x kw conv with r filters, then a 1x1 conv to the M outputs.
 * - Conv, spatial SVD (Jaderberg et al. 2014, scheme 2; Tai et al. 2016): kh x 1 conv with r filters
 *   (the vertical strides, pads, dilations), then 1 x kw conv (the horizontal ones).
 *
 * A layer is factorized only where r (K + N) < K N; the second node keeps the original node's name and
 * output, so the model's interface and value names do not change. Weights are read in float32 from any
 * float type (float16 and bfloat16 decoded) and the factors are written back in the weight's own type.
 *
 * Ranks: --rank, --energy and --per-layer --ratio apply to each layer alike; --ratio and --budget are
 * whole-model targets, allocated across layers by their measured sensitivity (allocateRanks in solve.ts).
 */
import { bitsPerElement, DataType } from '../../core/dtype.js';
import { ModelError, NumericsError } from '../../core/errors.js';
import type { Context } from '../../core/logger.js';
import { createHessian, type HessianAccumulator } from '../../calibration/accumulators/index.js';
import { makeAttr } from '../../ir/attribute.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import type { Tensor } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';
import { initBackend, type BackendName } from '../../runtime/backend.js';
import { Session } from '../../runtime/session.js';
import type { RTensor } from '../../runtime/value.js';
import type { LayerReport } from '../../report/schema.js';
import { findWeights, floatTensor, floatTypeName, releaseWeight, weightView, type WeightRole } from '../../ir/weights.js';
import { isWholeModel, type SvdOptions } from './options.js';
import { matmul, transpose } from '../../tensor/linalg.js';
import { truncate } from '../../tensor/svd.js';
import { allocateRanks, chooseFactorization, factorsAt, interpolatedCosts, maxSavingRank, measuredRanks, paramsAt, rankByShape, relativeError, spectrumOf, whitening, type AllocLayer, type Spectrum } from './solve.js';

/** A layer the pass can factorize. */
export interface SvdSite {
  node: Node;
  op: 'MatMul' | 'Gemm' | 'Conv';
  weight: Value;
  tensor: Tensor;
  /** The layer as Y = X W: K inputs, N outputs (Conv: K = C kh kw, N = M). */
  K: number;
  N: number;
  params: number;
  /** Bytes per element of the stored weight (4 for float32, 2 for float16 and bfloat16). */
  elementBytes: number;
  role: WeightRole;
}

/** A layer left whole, and why (reported at debug level and in the report's layers). */
export interface SvdSkip {
  node: Node;
  reason: string;
  /** Elements of its weight (0 when unknown). */
  params: number;
}

/** What findSites sees: layers to factorize, factorizable layers the options keep whole, and the rest. */
export interface FoundSites {
  sites: SvdSite[];
  /** Factorizable, but kept whole by --exclude or because it is the output head (they count as kept). */
  held: { site: SvdSite; reason: string }[];
  /** Not factorizable (a type, a shape, a shared weight...). */
  skipped: SvdSkip[];
}

/**
 * Finds the factorizable layers of the main graph (through the weights module, ir/weights.ts): MatMul and
 * Gemm with a constant 2-D float weight (float32, float16, bfloat16), 2-D Conv with group 1.
 */
export function findSites(model: Model, exclude?: RegExp, keepHead = false): FoundSites {
  const sites: SvdSite[] = [];
  const held: FoundSites['held'] = [];
  const skipped: SvdSkip[] = [];
  const found = findWeights(model);
  for (const s of found.skipped) if (['MatMul', 'Gemm', 'Conv'].includes(s.node.opType) && s.node.graph === model.graph) skipped.push({ node: s.node, reason: s.reason, params: s.params });
  for (const ws of found.sites) {
    if (ws.op === 'Gather') continue;
    const { node, op, value: weight, tensor } = ws;
    const skip = (reason: string) => skipped.push({ node, reason, params: ws.params });
    if (!ws.main) {
      skip('it is inside a subgraph (If / Loop / Scan body)');
      continue;
    }
    if (weight.uses.length > 1) {
      skip(`its weight '${weight.name}' is shared with other nodes`);
      continue;
    }
    const d = tensor.dims;
    const site = { node, op, weight, tensor, params: ws.params, elementBytes: bitsPerElement(ws.dataType) / 8, role: ws.role };
    let candidate: SvdSite | undefined;
    if (op === 'Conv') {
      const autoPad = node.attrString('auto_pad', 'NOTSET');
      if (d.length !== 4) skip(`only 2-D convolutions are factorized (weight rank ${d.length})`);
      else if (node.attrInt('group', 1) !== 1) skip('grouped/depthwise convolutions have nothing to factorize');
      else if (autoPad !== 'NOTSET' && autoPad !== 'VALID') skip(`auto_pad ${autoPad} is not supported`);
      else candidate = { ...site, K: d[1]! * d[2]! * d[3]!, N: d[0]! };
    } else {
      candidate = { ...site, K: d[ws.reductionAxis]!, N: d[ws.channelAxis]! };
    }
    if (!candidate) continue;
    if (exclude && exclude.test(node.name)) held.push({ site: candidate, reason: 'excluded by --exclude' });
    else if (keepHead && candidate.role === 'head') held.push({ site: candidate, reason: 'output head kept (--no-keep-head to factorize it)' });
    else sites.push(candidate);
  }
  const order = new Map<Node, number>();
  model.graph.nodes.forEach((n, i) => order.set(n, i));
  skipped.sort((p, q) => (order.get(p.node) ?? Infinity) - (order.get(q.node) ?? Infinity));
  return { sites, held, skipped };
}

/** W as the [K, N] matrix of Y = X W in float32 (Gemm transB undone; Conv [M, C, kh, kw] -> [C kh kw, M]). */
export function weightMatrix(site: SvdSite): Float32Array {
  const w = weightView(site.tensor);
  const { K, N } = site;
  const transposed = site.op === 'Conv' || (site.op === 'Gemm' && site.node.attrInt('transB', 0) === 1);
  return transposed ? transpose(w, N, K) : w;
}

/** The Conv weight as the spatial-SVD matrix P[(c, i), (m, j)] = W[m, c, i, j], [C kh, M kw], float32. */
export function spatialMatrix(t: Tensor): Float32Array {
  const [M, C, kh, kw] = t.dims as [number, number, number, number];
  const w = weightView(t);
  const out = new Float32Array(C * kh * M * kw);
  const cols = M * kw;
  for (let m = 0; m < M; m++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) out[(c * kh + i) * cols + m * kw + j] = w[((m * C + c) * kh + i) * kw + j]!;
  return out;
}

/** The input of a site's activation statistics: the value and whether it is [K, tokens]. */
function activationOf(site: SvdSite): { value: Value; transposed: boolean } | undefined {
  if (site.op === 'Conv') return undefined;
  const x = site.node.input(0);
  if (!x) return undefined;
  return { value: x, transposed: site.op === 'Gemm' && site.node.attrInt('transA', 0) === 1 };
}

/**
 * X Xᵀ... more exactly the Gram matrix XᵀX [K, K] of each MatMul/Gemm input over the calibration
 * batches, from one forward pass of the original model per batch (the shared accumulator of
 * src/calibration/accumulators, the same statistic GPTQ uses). Layers reading the same value share it.
 */
export async function gatherGrams(model: Model, sites: SvdSite[], batches: Iterable<Record<string, RTensor>>, ctx: Context & { backend?: BackendName }, samples?: number): Promise<Map<Value, HessianAccumulator>> {
  const accs = new Map<Value, HessianAccumulator>();
  const layouts = new Map<Value, { K: number; transposed: boolean }>();
  for (const s of sites) {
    const a = activationOf(s);
    if (!a || accs.has(a.value)) continue;
    accs.set(a.value, createHessian(s.K));
    layouts.set(a.value, { K: s.K, transposed: a.transposed });
  }
  if (accs.size === 0) return accs;
  const session = await Session.create(model, { backend: ctx.backend, logger: ctx.logger });
  const names = [...accs.keys()].map((v) => v.name);
  const task = ctx.progress.start('svd: activation statistics', 0);
  let seen = 0;
  try {
    for (const feeds of batches) {
      const out = session.runSync(feeds, { outputs: names });
      for (const [name, t] of out) {
        const v = model.graph.value(name)!;
        accs.get(v)!.add(t, layouts.get(v)!);
        t.dispose();
      }
      const first = Object.values(feeds)[0];
      seen += first?.dims[0] ?? 1;
      task.tick(1);
      if (samples !== undefined && seen >= samples) break;
    }
  } finally {
    task.done();
    session.dispose();
  }
  return accs;
}

/** The low-rank weight A B written back in the site's own layout (for measuring, not for the output). */
export function lowRankWeight(site: SvdSite, spectrum: Spectrum, r: number): Float32Array {
  const { a, b } = factorsAt(spectrum, r);
  const rows = spectrum.rows;
  const cols = spectrum.cols;
  const p = matmul(a, rows, r, b, r, cols);
  const out = new Float32Array(site.params);
  if (spectrum.kind === 'spatial') {
    const [M, C, kh, kw] = site.tensor.dims as [number, number, number, number];
    for (let m = 0; m < M; m++)
      for (let c = 0; c < C; c++)
        for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) out[((m * C + c) * kh + i) * kw + j] = p[(c * kh + i) * (M * kw) + m * kw + j]!;
    return out;
  }
  const transposed = site.op === 'Conv' || (site.op === 'Gemm' && site.node.attrInt('transB', 0) === 1);
  return transposed ? transpose(p, rows, cols) : p;
}

/**
 * Runs `fn` with a site's weight replaced by `values` (float32, in the weight's layout, stored in its
 * type), then puts the original tensor back untouched (a weight still in its external file stays there).
 */
function withWeight<T>(site: SvdSite, values: Float32Array, fn: () => T): T {
  const orig = site.tensor;
  const replaced = floatTensor(orig.dataType, orig.dims, values, orig.name);
  const producer = site.weight.producer;
  const attr = !site.weight.initializer && producer ? producer.attributes.get('value') : undefined;
  if (site.weight.initializer) site.weight.initializer = replaced;
  else if (producer && attr) producer.setAttr(makeAttr('value', replaced));
  try {
    return fn();
  } finally {
    if (site.weight.initializer) site.weight.initializer = orig;
    else if (producer && attr) producer.setAttr(attr);
  }
}

function firstOutputError(ref: RTensor[], got: RTensor[]): number {
  let num = 0;
  let den = 0;
  ref.forEach((t, k) => {
    const a = t.float32();
    const b = got[k]!.float32();
    for (let i = 0; i < a.length; i++) {
      num += (a[i]! - b[i]!) ** 2;
      den += a[i]! * a[i]!;
    }
  });
  return den > 0 ? num / den : 0;
}

/**
 * Each layer's measured effect on the model: for each layer alone, at each of a few ranks
 * (`measuredRanks`), the model's relative output error (squared, its first output, on the first
 * calibration batch) with that layer replaced by its rank-r factors. This is the measurement of AIMET's
 * greedy per-layer selection and of ASVD's sensitivity-based rank search; `interpolatedCosts` fills the
 * ranks in between.
 */
export async function measureModelErrors(model: Model, sites: SvdSite[], spectra: Spectrum[], batches: Iterable<Record<string, RTensor>>, ctx: Context & { backend?: BackendName }, maxBatches = 1): Promise<{ rank: number; error: number }[][]> {
  const feeds: Record<string, RTensor>[] = [];
  for (const b of batches) {
    feeds.push(b);
    if (feeds.length >= maxBatches) break;
  }
  const session = await Session.create(model, { backend: ctx.backend, logger: ctx.logger });
  const outName = model.graph.outputs[0]!.name;
  const runAll = () => feeds.map((f) => session.runSync(f, { outputs: [outName] }).get(outName)!);
  const ranks = spectra.map((s) => measuredRanks(maxSavingRank(s)));
  const task = ctx.progress.start('svd: layer sensitivities', ranks.reduce((n, r) => n + r.length, 0));
  try {
    const ref = runAll();
    const out = sites.map((site, i) => {
      const s = spectra[i]!;
      const points = ranks[i]!.map((r) => {
        let error = 0;
        if (relativeError(s, r) > 0) {
          error = withWeight(site, lowRankWeight(site, s, r), () => {
            session.invalidateConstants();
            const got = runAll();
            const e = firstOutputError(ref, got);
            for (const t of got) t.dispose();
            return e;
          });
        }
        task.tick(1, site.node.name);
        return { rank: r, error: Number.isFinite(error) ? error : Number.MAX_VALUE };
      });
      releaseWeight(site.tensor);
      return points;
    });
    for (const t of ref) t.dispose();
    return out;
  } finally {
    session.dispose();
    task.done();
  }
}

/** One layer's decision. */
export interface SvdDecision {
  site: SvdSite;
  spectrum: Spectrum;
  /** null: left whole (no rank saves parameters, or the target did not need it); `reason` says which. */
  rank: number | null;
  activationAware: boolean;
  reason?: string;
}

/** Rewrites one layer into its two factors (see the file comment), in the weight's own float type. */
export function rewriteSite(model: Model, d: SvdDecision): void {
  const { site, spectrum, rank } = d;
  if (rank === null) return;
  const g = model.graph;
  const n = site.node;
  const base = n.name || site.weight.name;
  const { a, b } = factorsAt(spectrum, rank);
  const r = rank;
  // The factors are stored in the weight's own type, so that both MatMul (Conv) inputs keep matching types.
  const dtype = site.tensor.dataType;
  const x = n.input(0)!;
  if (site.op === 'MatMul' || site.op === 'Gemm') {
    const { K, N } = site;
    let input = x;
    let scale = 1;
    if (site.op === 'Gemm') {
      if (n.attrInt('transA', 0) === 1) {
        const tr = g.createNode({ opType: 'Transpose', name: `${base}_svd_transA`, inputs: [x], outputs: [`${base}_svd_xT`], attributes: [makeAttr('perm', [1, 0])], before: n });
        input = tr.output(0)!;
      }
      scale = n.attrFloat('alpha', 1);
      n.setAttr(makeAttr('transA', 0, 'int'));
      n.setAttr(makeAttr('alpha', 1, 'float'));
    }
    if (scale !== 1) for (let i = 0; i < a.length; i++) a[i] = a[i]! * scale;
    const av = g.addInitializer(`${site.weight.name}_svd_a`, floatTensor(dtype, [K, r], a));
    const mid = g.createNode({ opType: 'MatMul', name: `${base}_svd_a`, inputs: [input, av], outputs: [`${base}_svd_mid`], before: n });
    let bt = floatTensor(dtype, [r, N], b);
    if (site.op === 'Gemm' && n.attrInt('transB', 0) === 1) {
      bt = floatTensor(dtype, [N, r], transpose(b, r, N));
    }
    const bv = g.addInitializer(`${site.weight.name}_svd_b`, bt);
    n.setInput(0, mid.output(0));
    n.setInput(1, bv);
  } else {
    const [M, C, kh, kw] = site.tensor.dims as [number, number, number, number];
    const strides = n.attrInts('strides', [1, 1]);
    const dil = n.attrInts('dilations', [1, 1]);
    const pads = n.attrString('auto_pad', 'NOTSET') === 'VALID' ? [0, 0, 0, 0] : n.attrInts('pads', [0, 0, 0, 0]);
    let firstW: Tensor;
    let firstAttrs: { kernel: number[]; strides: number[]; pads: number[]; dil: number[] };
    let secondW: Tensor;
    let secondAttrs: { kernel: number[]; strides: number[]; pads: number[]; dil: number[] };
    if (spectrum.kind === 'channel') {
      // A [C kh kw, r] -> r filters [r, C, kh, kw]; B [r, M] -> 1x1 conv [M, r, 1, 1].
      const K = C * kh * kw;
      const f = transpose(a, K, r);
      const s = transpose(b, r, M);
      firstW = floatTensor(dtype, [r, C, kh, kw], f);
      firstAttrs = { kernel: [kh, kw], strides, pads, dil };
      secondW = floatTensor(dtype, [M, r, 1, 1], s);
      secondAttrs = { kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], dil: [1, 1] };
    } else {
      // A [(c, i), r] -> vertical filters [r, C, kh, 1]; B [r, (m, j)] -> horizontal [M, r, 1, kw].
      const f = new Float32Array(r * C * kh);
      for (let j = 0; j < r; j++) for (let ci = 0; ci < C * kh; ci++) f[j * C * kh + ci] = a[ci * r + j]!;
      const s = new Float32Array(M * r * kw);
      for (let m = 0; m < M; m++) for (let j = 0; j < r; j++) for (let q = 0; q < kw; q++) s[(m * r + j) * kw + q] = b[j * M * kw + m * kw + q]!;
      firstW = floatTensor(dtype, [r, C, kh, 1], f);
      firstAttrs = { kernel: [kh, 1], strides: [strides[0]!, 1], pads: [pads[0]!, 0, pads[2]!, 0], dil: [dil[0]!, 1] };
      secondW = floatTensor(dtype, [M, r, 1, kw], s);
      secondAttrs = { kernel: [1, kw], strides: [1, strides[1]!], pads: [0, pads[1]!, 0, pads[3]!], dil: [1, dil[1]!] };
    }
    const fv = g.addInitializer(`${site.weight.name}_svd_a`, firstW);
    const convAttrs = (s: typeof firstAttrs) => [makeAttr('kernel_shape', s.kernel), makeAttr('strides', s.strides), makeAttr('pads', s.pads), makeAttr('dilations', s.dil), makeAttr('group', 1, 'int')];
    const first = g.createNode({ opType: 'Conv', name: `${base}_svd_a`, inputs: [x, fv], outputs: [`${base}_svd_mid`], attributes: convAttrs(firstAttrs), before: n });
    const sv = g.addInitializer(`${site.weight.name}_svd_b`, secondW);
    n.attributes.delete('auto_pad');
    for (const attr of convAttrs(secondAttrs)) n.setAttr(attr);
    n.setInput(0, first.output(0));
    n.setInput(1, sv);
  }
  if (site.weight.uses.length === 0 && site.weight.initializer) g.removeInitializer(site.weight);
  else if (site.weight.uses.length === 0 && site.weight.producer) g.removeNode(site.weight.producer);
}

/** What `planSvd` decides, before any rewrite. */
export interface SvdPlanResult {
  decisions: SvdDecision[];
  /** Factorizable layers kept whole by the options (--exclude, the head). */
  held: { site: SvdSite; reason: string }[];
  skipped: SvdSkip[];
  warnings: string[];
  /** The whole-model target, when there is one: what it allows the factorizable matrices and how. */
  target?: { unit: 'params' | 'bytes'; pool: number; allowed: number; sensitivity: 'model' | 'layer' | 'spectra' };
}

/** The constant tensors of the model: initializers and Constant node values, in every graph. */
function constantTensors(model: Model): Tensor[] {
  const out: Tensor[] = [];
  for (const g of model.graph.allGraphs()) {
    for (const v of g.initializers) out.push(v.initializer!);
    for (const n of g.nodes) {
      const t = n.opType === 'Constant' && n.domain === '' ? n.attrTensor('value') : undefined;
      if (t) out.push(t);
    }
  }
  return out;
}

/**
 * Elements and bytes of the model's constants (initializers and Constant nodes, as paddle2onnx writes
 * weights), counted from their shapes and types: nothing is read from external data files.
 */
export function modelParams(model: Model): { params: number; bytes: number } {
  let params = 0;
  let bytes = 0;
  for (const t of constantTensors(model)) {
    params += t.size;
    bytes += t.dataType === DataType.STRING ? 0 : Math.ceil((t.size * bitsPerElement(t.dataType)) / 8);
  }
  return { params, bytes };
}

/**
 * The candidate factorizations of one site (Conv: channel and spatial), whitened when `white` is given;
 * `saving`: only ranks that save parameters will be asked for (a whole-model target), so the others'
 * singular vectors are not kept.
 */
function candidatesOf(site: SvdSite, white: { l: Float32Array; inv: Float32Array } | undefined, known: number | undefined, seed: number, saving: boolean): Spectrum[] {
  const cands: Spectrum[] = [];
  const kind = site.op === 'Conv' ? 'channel' : 'matrix';
  cands.push(spectrumOf(kind, weightMatrix(site), site.K, site.N, site.params, white, site.op === 'Conv' || known === undefined ? { seed } : { rank: known, seed }));
  if (site.op === 'Conv') {
    const [M, C, kh, kw] = site.tensor.dims as [number, number, number, number];
    if (kh > 1 && kw > 1) cands.push(spectrumOf('spatial', spatialMatrix(site.tensor), C * kh, M * kw, site.params, undefined, { seed }));
  }
  return saving ? cands.map((c) => ({ ...c, svd: truncate(c.svd, Math.max(1, maxSavingRank(c))) })) : cands;
}

/** The capacity a whole-model target leaves the factorizable layers, in its unit. */
function targetOf(model: Model, options: SvdOptions, sites: SvdSite[], held: FoundSites['held']): { unit: 'params' | 'bytes'; pool: number; allowed: number; sizeOf: (s: SvdSite) => number } {
  const rule = options.rule;
  if (rule.kind === 'budget' && rule.bytes !== undefined) {
    const sizeOf = (s: SvdSite) => s.elementBytes;
    const mine = sites.reduce((n, s) => n + s.params * s.elementBytes, 0);
    const pool = [...sites, ...held.map((h) => h.site)].reduce((n, s) => n + s.params * s.elementBytes, 0);
    return { unit: 'bytes', pool, allowed: rule.bytes - (modelParams(model).bytes - mine), sizeOf };
  }
  const pool = [...sites, ...held.map((h) => h.site)].reduce((n, s) => n + s.params, 0);
  const kept = held.reduce((n, h) => n + h.site.params, 0);
  const total = rule.kind === 'budget' ? rule.params! : rule.kind === 'ratio' ? rule.ratio * pool : pool;
  return { unit: 'params', pool, allowed: Math.floor(total) - kept, sizeOf: () => 1 };
}

/**
 * Chooses a factorization and rank for every site (no graph change): per layer for --rank, --energy and
 * --per-layer; for the whole-model targets (--ratio, --budget), by `allocateRanks` over each layer's
 * sensitivity: with --data, the model's output error measured with each layer alone at a few ranks
 * (`--sensitivity model`, the default) or the layer's own whitened error (`layer`: its output error on
 * the data); without data, the layer's weight spectrum.
 */
export async function planSvd(model: Model, options: SvdOptions, ctx: Context & { data?: Iterable<Record<string, RTensor>> }): Promise<SvdPlanResult> {
  await initBackend(options.backend, ctx.logger);
  const { sites, held, skipped } = findSites(model, options.exclude, options.keepHead);
  const warnings: string[] = [];
  const run = { ...ctx, backend: options.backend };
  const rule = options.rule;
  const target = isWholeModel(options) ? targetOf(model, options, sites, held) : undefined;
  if (target && sites.length > 0) {
    // Rank 1 everywhere is the least the target can ask; fail before any expensive work.
    const least = sites.reduce((n, s) => n + Math.min(s.params, s.K + s.N) * target.sizeOf(s), 0);
    if (least > target.allowed) {
      const what = rule.kind === 'ratio' ? `--ratio ${rule.ratio} of ${target.pool} ${target.unit}` : `--budget ${rule.kind === 'budget' ? (rule.params ?? rule.bytes) : ''}`;
      throw new NumericsError(`the target cannot be reached: ${what} leaves ${Math.max(0, target.allowed)} ${target.unit} for the ${sites.length} factorizable layers, and rank 1 in each takes ${least}`, held.length > 0 ? 'raise --ratio or --budget, or factorize the kept layers too (--no-keep-head, drop --exclude)' : 'raise --ratio or --budget');
    }
  }
  const grams = ctx.data && sites.length > 0 ? await gatherGrams(model, sites, ctx.data, run, options.samples) : new Map<Value, HessianAccumulator>();
  const task = ctx.progress.start('svd: factorizing', sites.length);
  const candidates: Spectrum[][] = [];
  const aware: boolean[] = [];
  try {
    for (const site of sites) {
      const act = activationOf(site);
      const acc = act ? grams.get(act.value) : undefined;
      let white: { l: Float32Array; inv: Float32Array } | undefined;
      if (acc && acc.samples > 0) white = whitening(acc.gram(), site.K, options.damp);
      // With a rank known in advance only the leading triplets are needed (randomized SVD when large).
      const known = rule.kind === 'rank' || (rule.kind === 'ratio' && options.perLayer) ? Math.max(1, rankByShape(rule, site.K, site.N, site.params)) : undefined;
      candidates.push(candidatesOf(site, white, known, options.seed, target !== undefined));
      if (site.op === 'Conv' && ctx.data) ctx.logger.debug(`svd: ${site.node.describe()} is factorized by its weights: activation-aware SVD covers MatMul and Gemm`);
      aware.push(white !== undefined);
      releaseWeight(site.tensor);
      task.tick(1, site.node.name);
    }
  } finally {
    task.done();
    for (const acc of grams.values()) acc.dispose();
  }
  const decisions: SvdDecision[] = [];
  let sensitivity: 'model' | 'layer' | 'spectra' = 'spectra';
  if (target) {
    // Conv layers: the factorization that is more accurate at half the parameters.
    const chosen = candidates.map((c) => chooseFactorization(c, { kind: 'ratio', ratio: 0.5 }).spectrum);
    if (ctx.data) sensitivity = options.sensitivity ?? 'model';
    else if (options.sensitivity === 'model') warnings.push('--sensitivity model needs --data: the layers were ranked by their weight spectra');
    const layers: AllocLayer[] = sites.map((s) => ({ full: s.params * target.sizeOf(s), options: [] }));
    let ranks: (number | null)[] = chosen.map(() => null);
    if (layers.reduce((n, l) => n + l.full, 0) > target.allowed) {
      const measured = sensitivity === 'model' ? await measureModelErrors(model, sites, chosen, ctx.data!, run) : undefined;
      chosen.forEach((s, i) => {
        const top = maxSavingRank(s);
        const costs = measured ? interpolatedCosts(s, measured[i]!, top) : Array.from({ length: top }, (_, r) => relativeError(s, r + 1));
        layers[i]!.options = costs.map((cost, r) => ({ size: paramsAt(s, r + 1) * target.sizeOf(sites[i]!), cost }));
      });
      ranks = allocateRanks(layers, target.allowed);
    }
    sites.forEach((site, i) => {
      const rank = ranks[i]!;
      const d: SvdDecision = { site, spectrum: chosen[i]!, rank, activationAware: aware[i]! };
      if (rank === null) d.reason = maxSavingRank(chosen[i]!) < 1 ? 'no rank saves parameters' : 'the target is met with this layer whole';
      decisions.push(d);
    });
  } else {
    sites.forEach((site, i) => {
      const { spectrum, rank } = chooseFactorization(candidates[i]!, rule as Exclude<typeof rule, { kind: 'budget' }>);
      const saves = rank >= 1 && paramsAt(spectrum, rank) < site.params;
      const d: SvdDecision = { site, spectrum, rank: saves ? rank : null, activationAware: aware[i]! };
      if (!saves) d.reason = rank < 1 ? 'the asked ratio leaves no rank' : `rank ${rank} would not save parameters (${paramsAt(spectrum, rank)} >= ${site.params})`;
      decisions.push(d);
    });
  }
  for (const d of decisions) if (d.reason) ctx.logger.debug(`svd: ${d.site.node.describe()} left whole: ${d.reason}`);
  if (ctx.data && sites.length > 0 && !aware.some((x) => x)) warnings.push('no MatMul/Gemm input was observed in the data: plain SVD was used everywhere');
  const out: SvdPlanResult = { decisions, held, skipped, warnings };
  if (target) out.target = { unit: target.unit, pool: target.pool, allowed: target.allowed, sensitivity };
  return out;
}

/** The report line of one decision (a layer left whole says why in `skipped`). */
export function layerReport(d: SvdDecision): LayerReport {
  const r = d.rank;
  const type = floatTypeName(d.site.tensor.dataType);
  if (r === null) return { name: d.site.node.name, op: d.site.op, params: d.site.params, dataType: type, skipped: d.reason ?? 'left whole' };
  return {
    name: d.site.node.name,
    op: d.site.op,
    rank: r,
    params: paramsAt(d.spectrum, r),
    paramsBefore: d.site.params,
    error: relativeError(d.spectrum, r),
    factorization: d.spectrum.kind,
    activationAware: d.activationAware,
    dataType: type,
  };
}

/** The report line of a layer left whole before any decision (held by the options, or not factorizable). */
export function skippedReport(node: Node, reason: string, params: number): LayerReport {
  return { name: node.name, op: node.opType, params, skipped: reason };
}

/** Applies the decisions to the model (in place). */
export function applySvd(model: Model, decisions: SvdDecision[]): number {
  let changed = 0;
  for (const d of decisions) {
    if (d.rank === null) continue;
    if (d.site.node.graph !== model.graph) throw new ModelError(`${d.site.node.describe()} is not in the main graph`);
    rewriteSite(model, d);
    changed++;
  }
  return changed;
}
