/**
 * `compress svd`: low-rank factorization of MatMul, Gemm and Conv weights, with ranks by --rank, --energy,
 * or a whole-model --ratio / --budget allocated across layers by sensitivity (--per-layer: each layer
 * alike); activation-aware with --data (SVD-LLM whitening). See docs/svd.md.
 */
import { NothingToDoError } from '../../core/errors.js';
import type { Context } from '../../core/logger.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import { nothingToDoMessage } from '../../ir/weights.js';
import type { LayerReport } from '../../report/schema.js';
import type { RTensor } from '../../runtime/value.js';
import { parseSvdOptions, type SvdOptions } from './options.js';
import { applySvd, layerReport, modelParams, planSvd, skippedReport } from './pass.js';
import { paramsAt } from './solve.js';

export { parseSvdOptions, defaultRatio, isWholeModel, svdFlags, type SvdOptions, type RankRule, type Sensitivity } from './options.js';
export { findSites, planSvd, applySvd, layerReport, skippedReport, modelParams, rewriteSite, measureModelErrors, type SvdSite, type SvdDecision, type SvdSkip, type FoundSites, type SvdPlanResult } from './pass.js';
export * from './solve.js';

/** What the svd pass needs besides the logger: the calibration batches (re-iterable), when given. */
export interface SvdContext extends Context {
  data?: Iterable<Record<string, RTensor>>;
}

/** What the pass returns (the PassOutcome of src/cli/commands/registry.ts). */
export interface SvdResult {
  model: Model;
  modified: boolean;
  /** Every MatMul/Gemm/Conv layer with a constant weight, in graph order; those left whole have `skipped`. */
  layers: LayerReport[];
  warnings: string[];
  plan: {
    bytes: { before: number; after: number };
    params: { before: number; after: number };
    layers: number;
    /** The whole-model target: the factorizable matrices' size (`pool`), what the target allows the layers it may factorize, the sensitivity used. */
    target?: { unit: 'params' | 'bytes'; pool: number; allowed: number; sensitivity: 'model' | 'layer' | 'spectra' };
  };
}

/**
 * Factorizes the model's layers in place (nothing changes with `dryRun`). Options are validated by
 * parseSvdOptions when they are not already. Throws NothingToDoError (exit 1) when no layer would be
 * factorized.
 */
export async function svd(model: Model, options: SvdOptions | Record<string, unknown>, ctx: SvdContext): Promise<SvdResult> {
  const opts = 'rule' in options && typeof options.rule === 'object' ? (options as SvdOptions) : parseSvdOptions(options);
  const { decisions, held, skipped, warnings, target } = await planSvd(model, opts, ctx);
  const rows: { node: Node; row: LayerReport }[] = [
    ...decisions.map((d) => ({ node: d.site.node, row: layerReport(d) })),
    ...held.map((h) => ({ node: h.site.node, row: skippedReport(h.site.node, h.reason, h.site.params) })),
    ...skipped.map((s) => ({ node: s.node, row: skippedReport(s.node, s.reason, s.params) })),
  ];
  const order = new Map<Node, number>();
  model.graph.nodes.forEach((n, i) => order.set(n, i));
  rows.sort((p, q) => (order.get(p.node) ?? Infinity) - (order.get(q.node) ?? Infinity));
  const layers = rows.map((r) => r.row);
  const chosen = decisions.filter((d) => d.rank !== null);
  if (chosen.length === 0) {
    const reasons = [...decisions.map((d) => ({ op: d.site.op, reason: d.reason ?? 'left whole' })), ...held.map((h) => ({ op: h.site.op, reason: h.reason })), ...skipped.map((s) => ({ op: s.node.opType, reason: s.reason }))];
    throw new NothingToDoError(nothingToDoMessage('factorize', 'MatMul/Gemm/Conv weights', reasons), opts.exclude ? 'check --exclude' : undefined);
  }
  const before = modelParams(model);
  let saved = 0;
  let savedBytes = 0;
  for (const d of chosen) {
    const fewer = d.site.params - paramsAt(d.spectrum, d.rank!);
    saved += fewer;
    savedBytes += fewer * d.site.elementBytes;
  }
  const plan: SvdResult['plan'] = {
    bytes: { before: before.bytes, after: before.bytes - savedBytes },
    params: { before: before.params, after: before.params - saved },
    layers: chosen.length,
  };
  if (target) plan.target = target;
  for (const s of skipped) ctx.logger.debug(`svd: ${s.node.describe()}: ${s.reason}`);
  if (opts.dryRun) return { model, modified: false, layers, warnings, plan };
  applySvd(model, decisions);
  return { model, modified: true, layers, warnings, plan };
}
