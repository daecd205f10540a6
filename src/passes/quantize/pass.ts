/**
 * `quantize`: the graph plumbing. Resolves the mode, refuses models that are already quantized, plans
 * every weight (precision, layout, format), raises the opset when the plan needs it, then runs the mode:
 * weight-only round-to-nearest, dynamic int8, static QDQ with calibration, or float16.
 */
import { NothingToDoError, UsageError } from '../../core/errors.js';
import type { Context } from '../../core/logger.js';
import type { Model } from '../../ir/model.js';
import type { LayerReport } from '../../report/schema.js';
import { upgradeOpset } from '../shared/opset.js';
import { constantOf, nothingToDoMessage, promoteConstant } from '../../ir/weights.js';
import { assertNotQuantized } from './detect.js';
import { quantizeDynamic } from './dynamic.js';
import { convertFloat16 } from './fp16.js';
import type { FeedBatches, QuantizeMode, QuantizeOptions } from './options.js';
import { planWeights, type QuantizePlan } from './plan.js';
import { quantizeStatic } from './static.js';
import { applyWeightDecision, layerReport } from './weights.js';

/** What quantize returns: the model (modified in place), per-weight reports, the plan and warnings. */
export interface QuantizeResult {
  model: Model;
  modified: boolean;
  layers: LayerReport[];
  plan: QuantizePlan;
  warnings: string[];
}

/** The context quantize runs in: logger, progress, and calibration batches for static quantization. */
export type QuantizeContext = Context & { data?: FeedBatches };

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
  if (quantized.length === 0 && mode !== 'static') {
    const reasons = [...plan.weights.map((d) => ({ op: d.op, reason: d.reason ?? 'left in float' })), ...plan.skipped];
    throw new NothingToDoError(nothingToDoMessage('quantize', `${options.ops.join('/')} weights`, reasons), options.exclude ? 'check --exclude and --ops' : undefined);
  }
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
    return { model, modified: true, layers: r.layers, plan, warnings: [...warnings, ...r.warnings] };
  }

  const task = ctx.progress.start('quantize weights', quantized.length);
  const layers: LayerReport[] = [];
  for (const d of plan.weights) {
    if (d.bits === 'float') {
      layers.push(layerReport(d));
      continue;
    }
    const error = applyWeightDecision(model, d).error;
    layers.push(layerReport(d, error));
    task.tick(1, d.node);
  }
  task.done();
  return { model, modified: quantized.length > 0, layers, plan, warnings };
}
