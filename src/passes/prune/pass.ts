/**
 * The prune pass: wires the solvers of solve.ts to the graph. Unstructured and n:m patterns zero weights in
 * place (the model keeps its shapes; the zeros are the mask, which distill keeps at zero); the channel
 * pattern removes channels and repairs their consumers (structured.ts), so the tensors really shrink.
 *
 * Wanda and SparseGPT take their statistics from the shared block-by-block driver
 * (calibration/sequential.ts): each block's layers are scored on activations that already went through
 * the pruned blocks before them (as SparseGPT and llm-compressor's sequential pipeline do). With bias
 * correction (Wanda's default, SparseGPT's option) the same sweep gathers the input means, and each pruned
 * layer's mean output change goes into its bias (bias.ts) before the next block is calibrated.
 */
import { gzipSync } from 'node:zlib';
import { bitsPerElement } from '../../core/dtype.js';
import { NothingToDoError, NumericsError, UsageError } from '../../core/errors.js';
import { defaultContext, type Context } from '../../core/logger.js';
import type { Model } from '../../ir/model.js';
import type { NumericArray } from '../../ir/tensor.js';
import { serializeModel } from '../../onnx/index.js';
import type { LayerReport, Report } from '../../report/schema.js';
import { Session } from '../../runtime/session.js';
import { RTensor } from '../../runtime/value.js';
import {
  ColumnNormAccumulator,
  createColumnNorms,
  createHessian,
  HessianAccumulator,
  WithColumnMeans,
  withColumnMeans,
  type ActivationAccumulator,
} from '../../calibration/accumulators/index.js';
import { findLinearLayers, runSequential, type LinearLayer } from '../../calibration/sequential.js';
import { inverseUpperCholesky, NotPositiveDefiniteError } from '../../tensor/linalg.js';
import { isWeightFloatType, nothingToDoMessage, weightView } from '../../ir/weights.js';
import { addToBias, describeSite, prepareBias, revertBias, type BiasSite } from './bias.js';
import { fromRows, pruneLayers, refreshLayer, toRows, type PruneLayer, type SkippedLayer } from './layers.js';
import { dataNeedingMethods, parsePruneOptions, patternName, type PruneOptions } from './options.js';
import {
  applyMask,
  channelNorms,
  countZeros,
  dampenHessian,
  globalMasks,
  lowestChannels,
  magnitudeScores,
  nmMask,
  outputShift,
  relativeOutputError,
  sparseGpt,
  unstructuredMask,
  wandaScores,
  type RowMatrix,
} from './solve.js';
import { probeFeeds, probeShapes, pruneChannels } from './structured.js';
import { taylorChannelScores } from './taylor.js';

/** What the pass gets besides the logger: --data batches (re-iterable) and --labels. */
export interface PruneContext extends Context {
  data?: Iterable<Record<string, RTensor>>;
  labels?: Int32Array;
}

/** The pass result (the CLI's PassOutcome). */
export interface PruneResult {
  model: Model;
  modified: boolean;
  layers: LayerReport[];
  warnings: string[];
  plan?: { bytes: { before: number; after: number }; layers: string[] };
  report: Partial<Report>;
}

/**
 * The float weights (float32, float16, bfloat16 initializers of more than one element): their elements,
 * exact zeros, and dense bytes (what the tensors cost whatever their zeros).
 */
function weightBytes(model: Model): { params: number; zeros: number; bytes: number } {
  let params = 0;
  let zeros = 0;
  let bytes = 0;
  for (const g of model.graph.allGraphs()) {
    for (const v of g.initializers) {
      const t = v.initializer!;
      if (!isWeightFloatType(t.dataType) || t.size < 2) continue;
      params += t.size;
      bytes += (t.size * bitsPerElement(t.dataType)) / 8;
      zeros += countZeros(weightView(t));
      t.release();
    }
  }
  return { params, zeros, bytes };
}

/** The layers' rows of the report for those left dense before any work (`skipped` says why). */
function skippedRows(skipped: readonly SkippedLayer[]): LayerReport[] {
  return skipped.map((s) => ({ name: s.name, op: s.op, params: s.params, skipped: s.reason }));
}

/** Thrown when no layer was pruned: the one line says why, the model is not written. */
function nothingPruned(rows: readonly LayerReport[]): NothingToDoError {
  const reasons = rows.filter((r) => r.skipped).map((r) => ({ op: r.op, reason: String(r.skipped) }));
  return new NothingToDoError(nothingToDoMessage('prune', 'MatMul/Gemm/Conv weights', reasons), 'check --exclude, or prune the first layer and output heads too with --no-keep-sensitive');
}

function layerName(l: PruneLayer): string {
  return l.node.name || l.weight.name;
}

/** Checks the options against what the context offers. */
function checkData(options: PruneOptions, ctx: PruneContext): void {
  if (dataNeedingMethods.includes(options.method) && !ctx.data) {
    throw new UsageError(`--method ${options.method} needs calibration samples`, 'give them with --data, or use --method magnitude / l1 / l2');
  }
}

/**
 * `compress prune`: zeroes weights (unstructured or n:m) by magnitude, Wanda or SparseGPT, or removes whole
 * channels ranked by L1 / L2 norms or Taylor scores. Edits `model` in place and returns it with the per-layer
 * report; see docs/prune.md.
 */
export async function prune(model: Model, rawOptions: unknown = {}, ctx: PruneContext = defaultContext): Promise<PruneResult> {
  const options = parsePruneOptions((rawOptions ?? {}) as Record<string, unknown>);
  checkData(options, ctx);
  const labels = options.labels ?? ctx.labels;
  const before = weightBytes(model);
  const originalGzip = options.dryRun ? 0 : gzipSync(serializeModel(model)).length;
  const { layers, skipped } = pruneLayers(model, options);
  const warnings: string[] = [];
  for (const s of skipped) ctx.logger.debug(`prune: ${s.name} (${s.op}) stays dense: ${s.reason}`);
  if (layers.length === 0) throw nothingPruned(skippedRows(skipped));

  if (options.dryRun) {
    const bytes = before.bytes;
    const removed = options.pattern.kind === 'channel' ? Math.round(layers.reduce((n, l) => n + (l.params * bitsPerElement(l.weight.initializer!.dataType)) / 8, 0) * options.sparsity) : 0;
    return {
      model,
      modified: false,
      layers: [...layers.map((l) => ({ name: layerName(l), op: l.op, params: l.params, sparsity: options.sparsity })), ...skippedRows(skipped)],
      warnings,
      plan: { bytes: { before: bytes, after: bytes - removed }, layers: layers.map(layerName) },
      report: { pruning: { method: options.method, pattern: patternName(options.pattern), scope: options.scope, target: options.sparsity, layers: layers.map(layerName), skipped } },
    };
  }

  // Checked against the original on data: the first samples of --data, before and after.
  const feeds = checkFeeds(ctx);
  const ref = feeds ? await firstOutput(model, feeds, options, ctx) : undefined;
  let rows: LayerReport[];
  let structured: Record<string, unknown> | undefined;
  if (options.pattern.kind === 'channel') {
    const r = await pruneStructured(model, layers, options, ctx, labels, warnings);
    rows = r.rows;
    structured = r.summary;
  } else {
    rows = await pruneWeights(model, layers, options, ctx, warnings);
  }
  if (!rows.some((r) => !r.skipped)) throw nothingPruned([...rows, ...skippedRows(skipped)]);
  const after = weightBytes(model);
  const compressedGzip = gzipSync(serializeModel(model)).length;
  const pruned = rows.filter((r) => !r.skipped);
  const prunedParams = pruned.reduce((n, r) => n + ((r.params as number) ?? 0), 0);
  const prunedZeros = pruned.reduce((n, r) => n + ((r.zeros as number) ?? 0), 0);
  let check: Record<string, number> | undefined;
  if (feeds && ref) {
    const now = await firstOutput(model, feeds, options, ctx);
    check = compare(now.data, ref.data, ref.classes, Object.values(feeds)[0]?.dims[0] ?? 1);
  }
  const report: Partial<Report> = {
    pruning: {
      method: options.method,
      pattern: patternName(options.pattern),
      scope: options.scope,
      target: options.sparsity,
      // The mask is implied by exact zeros: a weight that is 0 in the output stays 0 (distill keeps it).
      masks: options.pattern.kind === 'channel' ? 'removed' : 'zeros',
      layersPruned: rows.filter((r) => !r.skipped).length,
      biasCorrection: options.pattern.kind !== 'channel' && options.biasCorrection,
      sparsity: {
        prunedLayers: prunedParams > 0 ? prunedZeros / prunedParams : 0,
        overall: after.params > 0 ? after.zeros / after.params : 0,
      },
      params: { before: before.params, after: after.params },
      denseBytes: { before: before.bytes, after: after.bytes },
      gzipBytes: { original: originalGzip, compressed: compressedGzip },
      ...(structured ? { structured } : {}),
      ...(check ? { check } : {}),
      skipped: skipped.map((s) => ({ name: s.name, op: s.op, reason: s.reason })),
    },
  };
  return { model, modified: true, layers: [...rows, ...skippedRows(skipped)], warnings, report };
}

/** Samples of the first --data batch on which the pruned model is compared with the original. */
const checkSamples = 16;

/** The first `checkSamples` samples of the first batch (the same feeds before and after pruning). */
function checkFeeds(ctx: PruneContext): Record<string, RTensor> | undefined {
  if (!ctx.data) return undefined;
  for (const b of ctx.data) {
    const out: Record<string, RTensor> = {};
    for (const [k, t] of Object.entries(b)) {
      const n = Math.min(checkSamples, t.dims[0] ?? 1);
      const per = t.dims.slice(1).reduce((x, y) => x * y, 1);
      out[k] = t.dims.length === 0 ? t : RTensor.fromHost(t.dataType, [n, ...t.dims.slice(1)], (t.host() as NumericArray).slice(0, n * per));
    }
    return out;
  }
  return undefined;
}

/** The model's first output on `feeds`, as float32. */
async function firstOutput(model: Model, feeds: Record<string, RTensor>, options: PruneOptions, ctx: PruneContext): Promise<{ data: Float32Array; classes: number }> {
  const session = await Session.create(model, { backend: options.backend, logger: ctx.logger });
  try {
    const name = model.graph.outputs[0]!.name;
    const r = session.runSync(feeds, { outputs: [name] });
    const t = r.get(name)!;
    const out = { data: Float32Array.from(t.float32()), classes: t.dims[t.dims.length - 1] ?? 1 };
    t.dispose();
    return out;
  } finally {
    session.dispose();
  }
}

/** Agreement of the pruned model's first output with the original's on the same samples (our runtime). */
function compare(a: Float32Array, b: Float32Array, classes: number, samples: number): Record<string, number> {
  let num = 0;
  let den = 0;
  let maxAbs = 0;
  for (let k = 0; k < a.length; k++) {
    num += (a[k]! - b[k]!) ** 2;
    den += b[k]! ** 2;
    maxAbs = Math.max(maxAbs, Math.abs(a[k]! - b[k]!));
  }
  let agree = 0;
  let total = 0;
  for (let row = 0; row + classes <= a.length; row += classes) {
    let ia = 0;
    let ib = 0;
    for (let c = 1; c < classes; c++) {
      if (a[row + c]! > a[row + ia]!) ia = c;
      if (b[row + c]! > b[row + ib]!) ib = c;
    }
    if (ia === ib) agree++;
    total++;
  }
  return { samples, relativeError: den > 0 ? Math.sqrt(num / den) : 0, maxAbsDiff: maxAbs, top1Agreement: total > 0 ? agree / total : 1 };
}

/** The per-layer mask and new weights for one layer, from its scores (magnitude / Wanda). */
function maskFor(options: PruneOptions, w: RowMatrix, scores: Float32Array, perRow: boolean): Uint8Array {
  const p = options.pattern;
  if (p.kind === 'nm') return nmMask(scores, w.rows, w.cols, p.n, p.m);
  return unstructuredMask(scores, w.rows, w.cols, options.sparsity, perRow);
}

/** A reason the layer cannot take the n:m pattern, if any. */
function nmProblem(options: PruneOptions, l: PruneLayer): string | undefined {
  const p = options.pattern;
  if (p.kind !== 'nm') return undefined;
  if (l.op === 'Conv' && l.inChannels % p.m !== 0) return `its ${l.inChannels} input channels per group are not a multiple of ${p.m}`;
  if (l.cols % p.m !== 0) return `its ${l.cols} inputs are not a multiple of ${p.m}`;
  return undefined;
}

function row(l: PruneLayer, data: Float32Array, method: string, pattern: string, error?: number): LayerReport {
  const zeros = countZeros(data);
  return { name: layerName(l), op: l.op, params: l.params, sparsity: zeros / l.params, zeros, method, pattern, ...(error !== undefined ? { error } : {}) };
}

/** Root mean square of `v`. */
function rms(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return v.length > 0 ? Math.sqrt(s / v.length) : 0;
}

/** Unstructured and n:m pruning of every layer. */
async function pruneWeights(model: Model, layers: PruneLayer[], options: PruneOptions, ctx: PruneContext, warnings: string[]): Promise<LayerReport[]> {
  const pattern = patternName(options.pattern);
  const rows: LayerReport[] = [];
  const usable: PruneLayer[] = [];
  for (const l of layers) {
    const problem = nmProblem(options, l);
    if (problem) {
      rows.push({ name: layerName(l), op: l.op, params: l.params, sparsity: countZeros(weightView(l.weight.initializer!)) / l.params, skipped: problem });
      warnings.push(`${layerName(l)} stays dense: ${problem}`);
    } else usable.push(l);
  }
  const task = ctx.progress.start('prune', usable.length);
  const byNode = new Map<unknown, LayerReport>();
  const magnitudeLayer = (l: PruneLayer, method = 'magnitude') => {
    const w = toRows(l);
    const mask = maskFor(options, w, magnitudeScores(w.data), false);
    const out = Float32Array.from(w.data);
    applyMask(out, mask);
    fromRows(l, out);
    byNode.set(l.node, row(l, out, method, pattern, relativeOutputError(w, out)));
    task.tick(1, layerName(l));
  };

  if (options.method === 'magnitude') {
    if (options.scope === 'global') {
      const ws = usable.map((l) => toRows(l));
      const masks = globalMasks(ws.map((w) => w.data), options.sparsity);
      usable.forEach((l, i) => {
        const out = Float32Array.from(ws[i]!.data);
        applyMask(out, masks[i]!);
        fromRows(l, out);
        byNode.set(l.node, row(l, out, 'magnitude', pattern, relativeOutputError(ws[i]!, out)));
        task.tick(1, layerName(l));
      });
    } else usable.forEach((l) => magnitudeLayer(l));
  } else {
    // Data-aware: MatMul/Gemm through the shared driver; Conv inputs are images whose per-position
    // statistics the driver does not gather, so Conv layers fall back to magnitude (said in warnings).
    const convs = usable.filter((l) => l.op === 'Conv');
    if (convs.length > 0) {
      warnings.push(`${options.method} scores MatMul/Gemm layers; ${convs.length} Conv layer(s) (${convs.map(layerName).slice(0, 3).join(', ')}${convs.length > 3 ? ', ...' : ''}) were pruned by magnitude`);
      convs.forEach((l) => magnitudeLayer(l, 'magnitude (Conv)'));
    }
    const linear = usable.filter((l) => l.op !== 'Conv');
    const nodes = new Set(linear.map((l) => l.node));
    const found = findLinearLayers(model).layers.filter((ll) => nodes.has(ll.node));
    const byLinear = new Map<LinearLayer, PruneLayer>();
    for (const ll of found) byLinear.set(ll, linear.find((l) => l.node === ll.node)!);
    const sparsegpt = options.method === 'sparsegpt';
    // Bias correction: each layer's bias site is found or made now, before the driver (which forbids graph
    // edits while it runs), and receives the layer's mean output change as soon as the layer is pruned, so
    // the next blocks are calibrated on corrected outputs. The means come from the same sweep.
    const sites = new Map<PruneLayer, BiasSite>();
    if (options.biasCorrection) {
      const opset = model.opset('') ?? 13;
      for (const l of linear) {
        const site = prepareBias(l, opset);
        if (typeof site === 'string') warnings.push(`${layerName(l)}: no bias correction: ${site}`);
        else sites.set(l, site);
      }
    }
    const corrected = new Set<PruneLayer>();
    const base = (K: number): ActivationAccumulator => (sparsegpt ? createHessian(K) : createColumnNorms(K));
    const factory = (K: number): ActivationAccumulator => (options.biasCorrection ? withColumnMeans(base(K)) : base(K));
    await runSequential(
      model,
      found,
      ctx.data!,
      {
        accumulator: factory,
        label: options.method,
        backend: options.backend,
        onBlock: ({ block, stats, tick }) => {
          for (const ll of block.layers) {
            const l = byLinear.get(ll)!;
            const stat = stats.get(ll)!;
            const acc = stat instanceof WithColumnMeans ? stat.inner : stat;
            const w = toRows(l);
            let out: Float32Array;
            let error: number;
            if (acc instanceof HessianAccumulator) {
              const H = acc.hessian();
              const { h, dead } = dampenHessian(H, w.cols, options.damp);
              let U: Float32Array;
              try {
                U = inverseUpperCholesky(h, w.cols);
              } catch (e) {
                if (e instanceof NotPositiveDefiniteError) {
                  throw new NumericsError(`${ll.node.describe()}: the Hessian of its inputs is not positive definite even after dampening ${options.damp}`, 'raise --damp (e.g. 0.1) or give more --data samples');
                }
                throw e;
              }
              const p = options.pattern;
              out = sparseGpt(w, { hinvUpper: U, dead }, { sparsity: options.sparsity, nm: p.kind === 'nm' ? { n: p.n, m: p.m } : undefined, blockSize: options.blockSize }).data;
              error = relativeOutputError(w, out, H);
            } else {
              const colSq = (acc as ColumnNormAccumulator).sumOfSquares();
              const scores = wandaScores(w, colSq);
              out = Float32Array.from(w.data);
              applyMask(out, maskFor(options, w, scores, true));
              error = relativeOutputError(w, out);
            }
            fromRows(l, out);
            const r = row(l, out, options.method, pattern, error);
            const site = sites.get(l);
            if (site && stat instanceof WithColumnMeans) {
              const shift = outputShift(w, out, stat.means());
              if (shift.some((v) => v !== 0)) {
                addToBias(site, shift);
                corrected.add(l);
              }
              const alpha = l.op === 'Gemm' ? l.node.attrFloat('alpha', 1)! : 1;
              r.biasCorrection = corrected.has(l) ? { into: describeSite(site), shiftRms: Math.abs(alpha) * rms(shift) } : { into: 'none: no mean shift' };
            }
            byNode.set(l.node, r);
            tick(layerName(l));
            task.tick(1, layerName(l));
          }
        },
      },
      ctx,
    );
    for (const [l, site] of sites) if (!corrected.has(l)) revertBias(site);
    for (const l of linear) {
      if (!byNode.has(l.node)) {
        rows.push({ name: layerName(l), op: l.op, params: l.params, sparsity: 0, skipped: 'not reached by the calibration driver' });
        warnings.push(`${layerName(l)} was not pruned: the calibration driver did not reach it`);
      }
    }
  }
  task.done();
  for (const l of usable) {
    const r = byNode.get(l.node);
    if (r) rows.push(r);
  }
  return rows;
}

/** Channel pruning of every layer, in graph order, each on the graph as the layers before left it. */
async function pruneStructured(
  model: Model,
  layers: PruneLayer[],
  options: PruneOptions,
  ctx: PruneContext,
  labels: Int32Array | undefined,
  warnings: string[],
): Promise<{ rows: LayerReport[]; summary: Record<string, unknown> }> {
  const taylor = options.method === 'taylor' ? await taylorChannelScores(model, layers, ctx.data!, labels, options.backend, ctx) : undefined;
  let firstBatch: Record<string, RTensor> | undefined;
  if (ctx.data) for (const b of ctx.data) {
    firstBatch = b;
    break;
  }
  const feeds = probeFeeds(model, firstBatch);
  const opset = model.opset('') ?? 13;
  const rows: LayerReport[] = [];
  const task = ctx.progress.start('prune channels', layers.length);
  let channelsBefore = 0;
  let channelsAfter = 0;
  let session = await Session.create(model, { backend: options.backend, logger: ctx.logger });
  try {
    for (const original of layers) {
      const l = refreshLayer(original);
      const shapes = probeShapes(session, feeds);
      const count = Math.min(l.rows - 1, Math.round(options.sparsity * l.rows));
      const w = toRows(l);
      const scores = taylor ? taylor.get(original)! : channelNorms(w, options.method === 'l2' ? 'l2' : 'l1');
      const removed = lowestChannels(scores, count);
      const outcome = pruneChannels(l, removed, shapes, opset);
      const name = layerName(l);
      channelsBefore += l.rows;
      if (outcome.skipped) {
        channelsAfter += l.rows;
        warnings.push(`${name} keeps its ${l.rows} channels: ${outcome.skipped}`);
        rows.push({ name, op: l.op, params: l.params, channels: { before: l.rows, after: l.rows }, skipped: outcome.skipped, method: options.method, pattern: 'channel' });
      } else {
        const now = refreshLayer(l);
        channelsAfter += now.rows;
        rows.push({
          name,
          op: l.op,
          params: now.params,
          paramsBefore: original.params,
          channels: { before: l.rows, after: now.rows },
          removedChannels: outcome.removed,
          repaired: outcome.repaired,
          method: options.method,
          pattern: 'channel',
        });
        session.dispose();
        session = await Session.create(model, { backend: options.backend, logger: ctx.logger });
      }
      task.tick(1, name);
    }
  } finally {
    session.dispose();
    for (const t of Object.values(feeds)) t.dispose();
    task.done();
  }
  model.graph.removeUnused();
  return { rows, summary: { channels: { before: channelsBefore, after: channelsAfter } } };
}

