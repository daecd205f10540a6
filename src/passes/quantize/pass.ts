/**
 * `quantize`: the graph plumbing. Resolves the mode, refuses models that are already quantized, plans
 * every weight (precision, layout, format), raises the opset when the plan needs it, then runs the mode:
 * weight-only round-to-nearest, dynamic int8, static QDQ with calibration, or float16.
 */
import { NothingToDoError, UsageError } from '../../core/errors.js';
import type { Context } from '../../core/logger.js';
import type { Model } from '../../ir/model.js';
import type { Value } from '../../ir/value.js';
import type { ActivationReport, LayerReport } from '../../report/schema.js';
import { upgradeOpset } from '../shared/opset.js';
import { constantOf, nothingToDoMessage, promoteConstant, weightOpTypes } from '../../ir/weights.js';
import { AUTO_POWER } from '../../calibration/observers/index.js';
import { assertNotQuantized } from './detect.js';
import { quantizeDynamic } from './dynamic.js';
import { convertFloat16 } from './fp16.js';
import type { FeedBatches, QuantizeMode, QuantizeOptions } from './options.js';
import { planWeights, type QuantizePlan, type WeightDecision } from './plan.js';
import { hasStaticOps, quantizeStatic } from './static.js';
import { applyWeightDecision, layerReport, nbitsJob, writeNBits } from './weights.js';
import { inlineElements, NBitsPool } from '../../tensor/nbits-pool.js';
import type { NBitsResult } from '../../tensor/quant.js';

/**
 * What quantize returns: the model (modified in place), per-weight reports, the plan and warnings; for
 * static quantization also report keys of its own: how calibration chose ranges, and each activation's.
 */
export interface QuantizeResult {
  model: Model;
  modified: boolean;
  layers: LayerReport[];
  plan: QuantizePlan;
  warnings: string[];
  report?: { calibration: CalibrationSummary; activations: ActivationReport[] };
}

/** The report's `calibration`: the method, and what the per-tensor `error` of `activations` measures. */
export interface CalibrationSummary {
  method: string;
  /** error = mean |x - q(x)|^power / mean |x|^power over each tensor's calibration values. */
  power: number;
  tensors: number;
  /** With auto: how many tensors each candidate's range won. */
  chosen?: Record<string, number>;
}

/**
 * The context quantize runs in: logger, progress, calibration batches for static quantization, and weights
 * a reference run quantized ahead (prepareQuantize).
 */
export type QuantizeContext = Context & { data?: FeedBatches; prepared?: PreparedWeights };

/** Whether two plans decide the same weights the same way (the prepared one was made on this model). */
function samePlan(a: QuantizePlan, b: QuantizePlan): boolean {
  return a.weights.length === b.weights.length && a.weights.every((d, i) => d.weight === b.weights[i]!.weight && d.format === b.weights[i]!.format && d.bits === b.weights[i]!.bits);
}

/** The prepared results keyed by the decisions of `plan` (same positions). */
function remap(p: PreparedWeights, plan: QuantizePlan): PreparedWeights {
  const results = new Map<WeightDecision, Promise<NBitsResult>>();
  p.plan.weights.forEach((d, i) => {
    const r = p.results.get(d);
    if (r) results.set(plan.weights[i]!, r);
  });
  return { ...p, results, plan };
}

/**
 * Carries out the weight decisions in plan order. MatMulNBits and GatherBlockQuantized weights (nearly all
 * of a language model) are quantized on every core (tensor/nbits-pool.ts, which bounds the bytes handed
 * over), each weight read (and released) when its turn comes, or taken from `prepared` when a reference
 * run already handed it over; the graph is rewritten in plan order, so the output is the same as in turn.
 */
async function quantizeWeights(model: Model, plan: QuantizePlan, done: (d: WeightDecision) => void, prepared?: PreparedWeights): Promise<LayerReport[]> {
  const layers: LayerReport[] = new Array(plan.weights.length);
  const big = plan.weights.filter((d) => nbitsJobSize(d) >= inlineElements).length;
  const pool = prepared?.pool ?? (big > 1 ? new NBitsPool() : undefined);
  const results = new Map<WeightDecision, Promise<NBitsResult>>();
  try {
    for (const d of plan.weights) {
      const early = prepared?.results.get(d);
      const job = early ? undefined : pool && d.bits !== 'float' ? nbitsJob(d) : undefined;
      const result = early ?? (job ? pool!.run(job) : undefined);
      if (!result) continue;
      // Awaited in plan order below; a later job failing first must not count as an unhandled rejection.
      result.catch(() => undefined);
      results.set(d, result);
    }
    for (let i = 0; i < plan.weights.length; i++) {
      const d = plan.weights[i]!;
      if (d.bits === 'float') {
        layers[i] = layerReport(d);
        continue;
      }
      const result = results.get(d);
      if (result) {
        const r = await result;
        // Written into the graph, the result is the graph's alone: once saved it can leave memory.
        results.delete(d);
        writeNBits(model, d, r);
        layers[i] = layerReport(d, r.error);
      } else {
        layers[i] = layerReport(d, applyWeightDecision(model, d).error);
      }
      done(d);
    }
  } finally {
    await pool?.close();
  }
  return layers;
}

/** Elements of a block-quantized decision's weight (0 for other formats). */
function nbitsJobSize(d: WeightDecision): number {
  return d.format === 'matmulnbits' || d.format === 'gatherblockquantized' ? d.params : 0;
}

/**
 * Weights quantized ahead of the pass: `prepareQuantize` plans the model and returns `onWeight`, which a
 * streamed reference run calls with each weight as it finishes with it (its data still in memory): the
 * weight goes to the quantization pool then and there, so a model larger than memory is read once for
 * both the reference and the quantization.
 */
export interface PreparedWeights {
  pool: NBitsPool;
  results: Map<WeightDecision, Promise<NBitsResult>>;
  /** Hands over one weight (a Value whose initializer is still loaded); ignored when it is not planned. */
  onWeight(value: Value): void;
  /** The plan it was made for (the pass checks it is the same model and options). */
  plan: QuantizePlan;
}

/**
 * Plans `model` for weight-only quantization under `options` and returns the hand-over of
 * PreparedWeights, or undefined when the options are not weight-only block quantization (nothing to gain).
 * With `spillDir` the pool keeps the packed codes in files there until the output is written (the caller
 * removes the folder once the output is saved and checked).
 */
export function prepareQuantize(model: Model, options: QuantizeOptions, spillDir?: string): PreparedWeights | undefined {
  if (resolveMode(options, false) !== 'weight-only' || options.dryRun) return undefined;
  const plan = planWeights(model, options, 'weight-only');
  const byValue = new Map<Value, WeightDecision>();
  for (const d of plan.weights) if (nbitsJobSize(d) > 0) byValue.set(d.sites[0]!.value, d);
  if (byValue.size === 0) return undefined;
  const pool = new NBitsPool(undefined, undefined, spillDir);
  const results = new Map<WeightDecision, Promise<NBitsResult>>();
  return {
    pool,
    results,
    plan,
    onWeight: (value) => {
      const d = byValue.get(value);
      if (!d || results.has(d)) return;
      const job = nbitsJob(d, true);
      if (!job) return;
      const r = pool.run(job);
      r.catch(() => undefined);
      results.set(d, r);
    },
  };
}

/** The mode 'auto' resolves to: static with calibration data, weight-only without. */
export function resolveMode(options: QuantizeOptions, hasData: boolean): QuantizeMode {
  if (options.mode !== 'auto') return options.mode;
  return hasData ? 'static' : 'weight-only';
}

/**
 * Quantizes `model` in place as `options` say (see parseQuantizeOptions). With `dryRun` the model is left
 * untouched and the plan says what would happen. Throws ModelError (exit 3) for an already-quantized model
 * and UsageError when static quantization has no calibration data.
 */
export async function quantize(model: Model, options: QuantizeOptions, ctx: QuantizeContext): Promise<QuantizeResult> {
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    ctx.logger.warn(m);
  };
  assertNotQuantized(model);
  const mode = resolveMode(options, ctx.data !== undefined);
  if (options.mode === 'auto' && mode === 'weight-only') {
    warn('no calibration data: quantizing weights only (give --data for static int8 of activations, or --weight-only to silence this)');
  }
  if (mode === 'static' && !ctx.data) {
    throw new UsageError('static quantization needs calibration data', 'give --data <file> (or random:<n> to try it out), or use --weight-only / --dynamic');
  }
  if (mode === 'static' && options.format && options.format !== 'qdq') {
    throw new UsageError(`static quantization writes QDQ; --format ${options.format} does not apply`, 'drop --format, or add --weight-only');
  }

  if (mode === 'fp16') {
    const r = convertFloat16(model, options, ctx, options.dryRun);
    return { model, modified: r.modified, layers: r.layers, plan: r.plan, warnings: [...warnings, ...r.warnings] };
  }

  const plan = planWeights(model, options, mode);
  for (const s of plan.skipped) ctx.logger.debug(`quantize: skipping node '${s.node}': ${s.reason}`);
  if (plan.opset?.blockers.length) {
    warn(`the model's opset ${plan.opset.from} cannot be raised to ${plan.opset.to} (${plan.opset.blockers[0]}${plan.opset.blockers.length > 1 ? ` and ${plan.opset.blockers.length - 1} more` : ''}); using com.microsoft ops instead`);
  }
  const quantized = plan.weights.filter((d) => d.bits !== 'float');
  const nothing = () => {
    const reasons = [...plan.weights.map((d) => ({ op: d.op, reason: d.reason ?? 'left in float' })), ...plan.skipped];
    // The weights found, by op (a Conv-only model under the default --ops says "Conv weights"); with
    // none, the weighted ops --ops names (it may name ops without weights: static's Concat, MaxPool, ...).
    const found = new Set(reasons.map((r) => r.op));
    const weighted = found.size > 0 ? weightOpTypes.filter((o) => found.has(o)) : options.ops.filter((o) => (weightOpTypes as readonly string[]).includes(o));
    return new NothingToDoError(nothingToDoMessage('quantize', `${weighted.join('/')} weights`, reasons), options.exclude ? 'check --exclude and --ops' : undefined);
  };
  // Static quantization may still quantize activations (an Add of two activations) without a weight.
  if (quantized.length === 0 && (mode !== 'static' || !hasStaticOps(model, options))) throw nothing();
  if (options.dryRun) {
    return { model, modified: false, layers: plan.weights.map((d) => layerReport(d)), plan, warnings };
  }
  // Weights (and biases) written as Constant nodes become initializers, which the writers replace.
  for (const d of quantized) {
    for (const s of d.sites) {
      promoteConstant(s.value);
      const bias = s.op === 'Conv' || s.op === 'Gemm' ? s.node.input(2) : null;
      if (bias && constantOf(bias)) promoteConstant(bias);
    }
  }
  if (plan.opset && plan.opset.blockers.length === 0 && plan.opset.to > plan.opset.from) {
    upgradeOpset(model, plan.opset.to);
    ctx.logger.info(`raised the opset from ${plan.opset.from} to ${plan.opset.to} (${Object.entries(plan.opset.rewrites).map(([k, v]) => `${v} ${k}`).join(', ') || 'no node rewritten'})`);
  }

  if (mode === 'dynamic') {
    const layers = quantizeDynamic(model, plan, ctx);
    return { model, modified: quantized.length > 0, layers, plan, warnings };
  }
  if (mode === 'static') {
    const r = await quantizeStatic(model, plan, options, ctx as QuantizeContext & { data: FeedBatches });
    if (quantized.length === 0 && !plan.activations) throw nothing();
    const calibration: CalibrationSummary = { method: options.calibration === 'percentile' ? `percentile ${options.percentile}` : options.calibration, power: options.calibration === 'auto' ? AUTO_POWER : 2, tensors: r.activations.length };
    if (options.calibration === 'auto') {
      calibration.chosen = {};
      for (const a of r.activations) calibration.chosen[a.method] = (calibration.chosen[a.method] ?? 0) + 1;
    }
    return { model, modified: true, layers: r.layers, plan, warnings: [...warnings, ...r.warnings], report: { calibration, activations: r.activations } };
  }

  const task = ctx.progress.start('quantize weights', quantized.length);
  // Weights a reference run already handed over (prepareQuantize) are matched by their plan position.
  const prepared = ctx.prepared && samePlan(ctx.prepared.plan, plan) ? remap(ctx.prepared, plan) : undefined;
  const layers = await quantizeWeights(model, plan, (d) => task.tick(1, d.node), prepared);
  // Consumed: the graph holds the results now (and lets them go once written to the output's file).
  ctx.prepared?.results.clear();
  task.done();
  return { model, modified: quantized.length > 0, layers, plan, warnings };
}
