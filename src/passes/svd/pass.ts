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
 * output, so the model's interface and value names do not change.
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import type { Context } from '../../core/logger.js';
import { createHessian, type HessianAccumulator } from '../../calibration/accumulators/index.js';
import { makeAttr } from '../../ir/attribute.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import { Tensor } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';
import { initBackend, type BackendName } from '../../runtime/backend.js';
import { Session } from '../../runtime/session.js';
import type { RTensor } from '../../runtime/value.js';
import type { LayerReport } from '../../report/schema.js';
import { findWeights } from '../../ir/weights.js';
import type { SvdOptions } from './options.js';
import { matmul, transpose } from '../../tensor/linalg.js';
import { chooseFactorization, factorsAt, greedyRanks, maxSavingRank, paramsAt, rankByShape, relativeError, spectrumOf, whitening, type Spectrum } from './solve.js';

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
}

/** A layer left whole, and why (reported at debug level and in the report's warnings). */
export interface SvdSkip {
  node: Node;
  reason: string;
}

/** Finds the factorizable layers of the main graph (through the weights module, ir/weights.ts). */
export function findSites(model: Model, exclude?: RegExp): { sites: SvdSite[]; skipped: SvdSkip[] } {
  const sites: SvdSite[] = [];
  const skipped: SvdSkip[] = [];
  const found = findWeights(model);
  for (const s of found.skipped) if (['MatMul', 'Gemm', 'Conv'].includes(s.node.opType) && s.node.graph === model.graph) skipped.push({ node: s.node, reason: s.reason });
  for (const site of found.sites) {
    if (!site.main || site.op === 'Gather') continue;
    const { node, op, value: weight, tensor } = site;
    if (exclude && exclude.test(node.name)) {
      skipped.push({ node, reason: 'excluded by --exclude' });
      continue;
    }
    if (tensor.dataType !== DataType.FLOAT) {
      skipped.push({ node, reason: `its weight is not float32` });
      continue;
    }
    if (weight.uses.length > 1) {
      skipped.push({ node, reason: `its weight '${weight.name}' is shared with other nodes` });
      continue;
    }
    const d = tensor.dims;
    if (op === 'Conv') {
      const autoPad = node.attrString('auto_pad', 'NOTSET');
      if (d.length !== 4) skipped.push({ node, reason: `only 2-D convolutions are factorized (weight rank ${d.length})` });
      else if (node.attrInt('group', 1) !== 1) skipped.push({ node, reason: 'grouped/depthwise convolutions have nothing to factorize' });
      else if (autoPad !== 'NOTSET' && autoPad !== 'VALID') skipped.push({ node, reason: `auto_pad ${autoPad} is not supported` });
      else sites.push({ node, op, weight, tensor, K: d[1]! * d[2]! * d[3]!, N: d[0]!, params: tensor.size });
      continue;
    }
    const K = d[site.reductionAxis]!;
    const N = d[site.channelAxis]!;
    sites.push({ node, op, weight, tensor, K, N, params: tensor.size });
  }
  const order = new Map<Node, number>();
  model.graph.nodes.forEach((n, i) => order.set(n, i));
  skipped.sort((p, q) => (order.get(p.node) ?? Infinity) - (order.get(q.node) ?? Infinity));
  return { sites, skipped };
}

/** W as the [K, N] matrix of Y = X W (Gemm transB undone; Conv [M, C, kh, kw] -> [C kh kw, M]). */
export function weightMatrix(site: SvdSite): Float32Array {
  const w = site.tensor.data as Float32Array;
  const { K, N } = site;
  const transposed = site.op === 'Conv' || (site.op === 'Gemm' && site.node.attrInt('transB', 0) === 1);
  return transposed ? transpose(w, N, K) : w;
}

/** The Conv weight as the spatial-SVD matrix P[(c, i), (m, j)] = W[m, c, i, j], [C kh, M kw]. */
export function spatialMatrix(t: Tensor): Float32Array {
  const [M, C, kh, kw] = t.dims as [number, number, number, number];
  const w = t.data as Float32Array;
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
  const out = new Float32Array(site.tensor.size);
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
 * Each layer's measured sensitivity: how much of the model's output error (relative, squared, on the
 * first calibration batches) one unit of the layer's own relative error causes. Each layer in turn is
 * replaced by its low-rank version at half its highest saving rank, the model is run, and the ratio is
 * taken. This is the measured part of AIMET's greedy selection (it evaluates the whole model per layer
 * and candidate ratio); one run per layer, linearized, keeps it affordable on our runtime.
 */
export async function measureSensitivities(model: Model, sites: SvdSite[], spectra: Spectrum[], batches: Iterable<Record<string, RTensor>>, ctx: Context & { backend?: BackendName }, maxBatches = 1): Promise<number[]> {
  const feeds: Record<string, RTensor>[] = [];
  for (const b of batches) {
    feeds.push(b);
    if (feeds.length >= maxBatches) break;
  }
  const session = await Session.create(model, { backend: ctx.backend, logger: ctx.logger });
  const outName = model.graph.outputs[0]!.name;
  const runAll = () => feeds.map((f) => session.runSync(f, { outputs: [outName] }).get(outName)!);
  const task = ctx.progress.start('svd: layer sensitivities', sites.length);
  try {
    const ref = runAll();
    const out = sites.map((site, i) => {
      const s = spectra[i]!;
      const r = Math.max(1, Math.floor(maxSavingRank(s) / 2));
      const layerErr = relativeError(s, r);
      const saved = site.tensor.data;
      let factor = 1;
      if (layerErr > 0) {
        site.tensor.data = lowRankWeight(site, s, r);
        session.invalidateConstants();
        const got = runAll();
        factor = firstOutputError(ref, got) / layerErr;
        for (const t of got) t.dispose();
        site.tensor.data = saved;
      }
      task.tick(1, site.node.name);
      return Number.isFinite(factor) ? factor : 1;
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
  /** null: left whole (no rank saves parameters, or the budget did not need it). */
  rank: number | null;
  activationAware: boolean;
}

function float32Tensor(dims: number[], data: Float32Array): Tensor {
  return new Tensor(DataType.FLOAT, dims, data);
}

/** Rewrites one layer into its two factors (see the file comment). */
export function rewriteSite(model: Model, d: SvdDecision): void {
  const { site, spectrum, rank } = d;
  if (rank === null) return;
  const g = model.graph;
  const n = site.node;
  const base = n.name || site.weight.name;
  const { a, b } = factorsAt(spectrum, rank);
  const r = rank;
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
    const av = g.addInitializer(`${site.weight.name}_svd_a`, float32Tensor([K, r], a));
    const mid = g.createNode({ opType: 'MatMul', name: `${base}_svd_a`, inputs: [input, av], outputs: [`${base}_svd_mid`], before: n });
    let bt = float32Tensor([r, N], b);
    if (site.op === 'Gemm' && n.attrInt('transB', 0) === 1) {
      bt = float32Tensor([N, r], transpose(b, r, N));
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
      firstW = float32Tensor([r, C, kh, kw], f);
      firstAttrs = { kernel: [kh, kw], strides, pads, dil };
      secondW = float32Tensor([M, r, 1, 1], s);
      secondAttrs = { kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], dil: [1, 1] };
    } else {
      // A [(c, i), r] -> vertical filters [r, C, kh, 1]; B [r, (m, j)] -> horizontal [M, r, 1, kw].
      const f = new Float32Array(r * C * kh);
      for (let j = 0; j < r; j++) for (let ci = 0; ci < C * kh; ci++) f[j * C * kh + ci] = a[ci * r + j]!;
      const s = new Float32Array(M * r * kw);
      for (let m = 0; m < M; m++) for (let j = 0; j < r; j++) for (let q = 0; q < kw; q++) s[(m * r + j) * kw + q] = b[j * M * kw + m * kw + q]!;
      firstW = float32Tensor([r, C, kh, 1], f);
      firstAttrs = { kernel: [kh, 1], strides: [strides[0]!, 1], pads: [pads[0]!, 0, pads[2]!, 0], dil: [dil[0]!, 1] };
      secondW = float32Tensor([M, r, 1, kw], s);
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
  skipped: SvdSkip[];
  warnings: string[];
}

/** Total elements of the model's initializers (the parameter count a budget refers to). */
export function modelParams(model: Model): { params: number; bytes: number } {
  let params = 0;
  let bytes = 0;
  for (const g of model.graph.allGraphs()) {
    for (const v of g.initializers) {
      const t = v.initializer!;
      params += t.size;
      bytes += t.data.length * ((t.data as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1);
    }
  }
  return { params, bytes };
}

/** Chooses a factorization and rank for every site (no graph change). */
export async function planSvd(model: Model, options: SvdOptions, ctx: Context & { data?: Iterable<Record<string, RTensor>> }): Promise<SvdPlanResult> {
  await initBackend(options.backend, ctx.logger);
  const { sites, skipped } = findSites(model, options.exclude);
  const warnings: string[] = [];
  const run = { ...ctx, backend: options.backend };
  const grams = ctx.data ? await gatherGrams(model, sites, ctx.data, run, options.samples) : new Map<Value, HessianAccumulator>();
  const rule = options.rule;
  const task = ctx.progress.start('svd: factorizing', sites.length);
  const candidatesOf: Spectrum[][] = [];
  const aware: boolean[] = [];
  try {
    for (const site of sites) {
      const act = activationOf(site);
      const acc = act ? grams.get(act.value) : undefined;
      let white: { l: Float32Array; inv: Float32Array } | undefined;
      if (acc && acc.samples > 0) white = whitening(acc.gram(), site.K, options.damp);
      const w = weightMatrix(site);
      const cands: Spectrum[] = [];
      // With a rank known in advance only the leading triplets are needed (randomized SVD when large).
      const known = rule.kind === 'rank' || rule.kind === 'ratio' ? { rank: Math.max(1, rankByShape(rule, site.K, site.N, site.params)) } : {};
      const kind = site.op === 'Conv' ? 'channel' : 'matrix';
      cands.push(spectrumOf(kind, w, site.K, site.N, site.params, white, site.op === 'Conv' ? { seed: options.seed } : { ...known, seed: options.seed }));
      if (site.op === 'Conv') {
        const [M, C, kh, kw] = site.tensor.dims as [number, number, number, number];
        if (kh > 1 && kw > 1) cands.push(spectrumOf('spatial', spatialMatrix(site.tensor), C * kh, M * kw, site.params, undefined, { seed: options.seed }));
        if (ctx.data) ctx.logger.debug(`svd: ${site.node.describe()} is factorized by its weights: activation-aware SVD covers MatMul and Gemm`);
      }
      candidatesOf.push(cands);
      aware.push(white !== undefined);
      task.tick(1, site.node.name);
    }
  } finally {
    task.done();
    for (const acc of grams.values()) acc.dispose();
  }
  const decisions: SvdDecision[] = [];
  if (rule.kind === 'budget') {
    // Conv layers: the factorization that is more accurate at half the parameters.
    const chosen = candidatesOf.map((c) => chooseFactorization(c, { kind: 'ratio', ratio: 0.5 }).spectrum);
    const total = modelParams(model);
    const need = rule.params !== undefined ? total.params - rule.params : (total.bytes - rule.bytes!) / 4;
    // With data, each layer's error is weighted by its measured effect on the model's output.
    const weights = need > 0 && ctx.data ? await measureSensitivities(model, sites, chosen, ctx.data, run) : chosen.map(() => 1);
    const ranks = need > 0 ? greedyRanks(chosen.map((spectrum, i) => ({ spectrum, weight: weights[i]! })), need) : chosen.map(() => null);
    sites.forEach((site, i) => decisions.push({ site, spectrum: chosen[i]!, rank: ranks[i]!, activationAware: aware[i]! }));
  } else {
    sites.forEach((site, i) => {
      const { spectrum, rank } = chooseFactorization(candidatesOf[i]!, rule);
      const saves = rank >= 1 && paramsAt(spectrum, rank) < site.params;
      if (!saves) skipped.push({ node: site.node, reason: rank < 1 ? 'the asked ratio leaves no rank' : `rank ${rank} would not save parameters (${paramsAt(spectrum, rank)} >= ${site.params})` });
      decisions.push({ site, spectrum, rank: saves ? rank : null, activationAware: aware[i]! });
    });
  }
  for (const s of skipped) ctx.logger.debug(`svd: ${s.node.describe()} left whole: ${s.reason}`);
  if (ctx.data && !aware.some((x) => x)) warnings.push('no MatMul/Gemm input was observed in the data: plain SVD was used everywhere');
  return { decisions, skipped, warnings };
}

/** The report line of one decision. */
export function layerReport(d: SvdDecision): LayerReport {
  const r = d.rank;
  return {
    name: d.site.node.name,
    op: d.site.op,
    rank: r ?? Math.min(d.site.K, d.site.N),
    params: r === null ? d.site.params : paramsAt(d.spectrum, r),
    paramsBefore: d.site.params,
    error: r === null ? 0 : relativeError(d.spectrum, r),
    factorization: r === null ? 'none' : d.spectrum.kind,
    activationAware: d.activationAware,
  };
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
