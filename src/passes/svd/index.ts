/**
 * `compress svd`: low-rank factorization of MatMul, Gemm and Conv weights, with ranks by --rank, --ratio,
 * --energy or a global --budget, activation-aware with --data (SVD-LLM whitening). See docs/svd.md.
 */
import type { Context } from '../../core/logger.js';
import type { Model } from '../../ir/model.js';
import type { LayerReport } from '../../report/schema.js';
import type { RTensor } from '../../runtime/value.js';
import { parseSvdOptions, type SvdOptions } from './options.js';
import { applySvd, layerReport, modelParams, planSvd } from './pass.js';

export { parseSvdOptions, defaultRatio, type SvdOptions, type RankRule } from './options.js';
export { findSites, planSvd, applySvd, layerReport, modelParams, rewriteSite, type SvdSite, type SvdDecision, type SvdSkip } from './pass.js';
export * from './solve.js';

/** What the svd pass needs besides the logger: the calibration batches (re-iterable), when given. */
export interface SvdContext extends Context {
  data?: Iterable<Record<string, RTensor>>;
}

/** What the pass returns (the PassOutcome of src/cli/commands/registry.ts). */
export interface SvdResult {
  model: Model;
  modified: boolean;
  layers: LayerReport[];
  warnings: string[];
  plan: { bytes: { before: number; after: number }; params: { before: number; after: number }; layers: number };
}

/**
 * Factorizes the model's layers in place (nothing changes with `dryRun`). Options are validated by
 * parseSvdOptions when they are not already.
 */
export async function svd(model: Model, options: SvdOptions | Record<string, unknown>, ctx: SvdContext): Promise<SvdResult> {
  const opts = 'rule' in options && typeof options.rule === 'object' ? (options as SvdOptions) : parseSvdOptions(options);
  const { decisions, skipped, warnings } = await planSvd(model, opts, ctx);
  const layers = decisions.map(layerReport);
  const before = modelParams(model);
  const saved = layers.reduce((s, l) => s + (Number(l.paramsBefore) - l.params), 0);
  const plan = {
    bytes: { before: before.bytes, after: before.bytes - 4 * saved },
    params: { before: before.params, after: before.params - saved },
    layers: decisions.filter((d) => d.rank !== null).length,
  };
  for (const s of skipped) if (!/excluded/.test(s.reason)) ctx.logger.debug(`svd: ${s.node.describe()}: ${s.reason}`);
  if (opts.dryRun) return { model, modified: false, layers, warnings, plan };
  const changed = applySvd(model, decisions);
  if (changed === 0) warnings.push('no layer was factorized: no rank that the options allow saves parameters');
  return { model, modified: changed > 0, layers, warnings, plan };
}
