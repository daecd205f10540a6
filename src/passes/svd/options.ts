/**
 * The options of `compress svd`, validated once before any work (STYLE.md habit 7). The raw input is the
 * command line's flags camelCased (src/cli/commands/svd.ts) or an API caller's object; every error names
 * the flag and what it accepts.
 */
import { UsageError } from '../../core/errors.js';
import type { BackendName } from '../../runtime/backend.js';
import { rawBackend, rawBool } from '../shared/raw.js';

/**
 * How ranks are chosen. `ratio` and `budget` are whole-model targets (ranks allocated across layers by
 * sensitivity) unless `perLayer`; `rank` and `energy` apply to each layer alike.
 */
export type RankRule =
  | { kind: 'rank'; rank: number }
  | { kind: 'ratio'; ratio: number }
  | { kind: 'energy'; energy: number }
  | { kind: 'budget'; params?: number; bytes?: number };

/**
 * What a layer's sensitivity to a lower rank is measured by, for the whole-model targets: `layer`, the
 * layer's own relative truncation error: its output error on the calibration data with --data (the
 * whitened spectrum), its weight error without; `model` (the default with --data), the model's output
 * error with that layer alone factorized, measured at a few ranks (one forward pass per layer and rank).
 */
export type Sensitivity = 'layer' | 'model';

/** The validated options of the svd pass. */
export interface SvdOptions {
  rule: RankRule;
  /** `ratio` applies to each matrix alike (the behaviour before whole-model targets). */
  perLayer: boolean;
  /** Leave the output head(s) whole (true by default: a small head is the most sensitive layer). */
  keepHead: boolean;
  /** Unset: `model` with --data, the weight spectra (`layer`) without. */
  sensitivity?: Sensitivity;
  /** Nodes whose name matches are left as they are. */
  exclude?: RegExp;
  /**
   * Relative diagonal damping of X Xᵀ before its Cholesky factor (λ = damp · mean diag), as GPTQ damps
   * its Hessian: it keeps the whitening defined where inputs are dead or fewer than K samples were seen.
   */
  damp: number;
  seed: number;
  samples?: number;
  batchSize: number;
  dryRun: boolean;
  /** Executor backend for activation statistics and sensitivities; default auto. */
  backend: BackendName;
}

/** The ratio used when none of rank, ratio, energy or budget is given (the CLI's documented default). */
export const defaultRatio = 0.5;

/** Every flag of the svd pass beyond the data and common ones, with its default (the CLI's --help). */
export const svdFlags: readonly { flag: string; key: string; values: string; default: string; help: string }[] = [
  { flag: '--rank', key: 'rank', values: 'integer >= 1', default: 'none', help: 'keep this rank in every matrix' },
  { flag: '--ratio', key: 'ratio', values: '(0, 1]', default: `${defaultRatio} when no other target is given`, help: 'share of the parameters of all factorizable weight matrices kept (the whole model; with --per-layer, of each matrix)' },
  { flag: '--energy', key: 'energy', values: '(0, 1]', default: 'none', help: "share of each matrix's spectral energy (sum of squared singular values) kept" },
  { flag: '--budget', key: 'budget', values: 'parameters (1e6) or bytes (10MB)', default: 'none', help: 'whole-model target: parameters of the factorizable weight matrices, or bytes of all weights' },
  { flag: '--per-layer', key: 'perLayer', values: 'switch', default: 'off', help: 'apply --ratio to each matrix alike instead of spreading ranks by sensitivity' },
  { flag: '--no-keep-head', key: 'keepHead', values: 'switch', default: 'keep', help: 'also factorize the output head (left whole by default)' },
  { flag: '--sensitivity', key: 'sensitivity', values: 'layer | model', default: 'model with --data, else the weight spectra', help: "how a whole-model target ranks layers: each layer's own truncation error (whitened with --data), or the model's output error with each layer alone at a few ranks (needs --data)" },
  { flag: '--exclude', key: 'exclude', values: 'regex', default: 'none', help: 'leave nodes whose name matches untouched' },
];

const units: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

function parseBudget(raw: unknown): { params?: number; bytes?: number } {
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw) || raw < 1) throw new UsageError(`--budget must be a positive number of parameters, got ${raw}`);
    return { params: Math.round(raw) };
  }
  if (raw && typeof raw === 'object' && 'kind' in raw && 'value' in raw) {
    const { kind, value } = raw as { kind: unknown; value: unknown };
    if ((kind === 'params' || kind === 'bytes') && typeof value === 'number' && value >= 1) return kind === 'params' ? { params: value } : { bytes: value };
    throw new UsageError(`--budget must be { kind: 'params' | 'bytes', value >= 1 }, got ${JSON.stringify(raw)}`);
  }
  const s = String(raw).trim().toLowerCase();
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)\s*([a-z]*)$/.exec(s);
  if (!m) throw new UsageError(`--budget must be a parameter count (1e6) or a size (10MB), got '${String(raw)}'`);
  const n = Number(m[1]);
  if (!m[2]) return { params: Math.round(n) };
  const f = units[m[2]];
  if (f === undefined) throw new UsageError(`--budget has an unknown unit '${m[2]}'`, 'use B, kB, MB, GB, KiB, MiB or GiB');
  return { bytes: Math.round(n * f) };
}

function num(raw: Record<string, unknown>, key: string, flag: string, lo: number, hi: number, loExclusive: boolean): number | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'number' ? v : Number(String(v));
  if (!Number.isFinite(n) || n > hi || n < lo || (loExclusive && n === lo)) {
    throw new UsageError(`${flag} must be in ${loExclusive ? '(' : '['}${lo}, ${hi}], got '${String(v)}'`);
  }
  return n;
}

/**
 * Validates svd options: at most one of rank, ratio, energy, budget; `perLayer` not with budget; defaults
 * `ratio` 0.5 (whole model), the head kept, the sensitivity left to the data (see `Sensitivity`).
 */
export function parseSvdOptions(raw: unknown): SvdOptions {
  const r = (raw ?? {}) as Record<string, unknown>;
  const given = (['rank', 'ratio', 'energy', 'budget'] as const).filter((k) => r[k] !== undefined && r[k] !== null);
  if (given.length > 1) throw new UsageError(`--${given.join(' and --')} cannot be used together`, 'give one of --rank, --ratio, --energy, --budget');
  let rule: RankRule = { kind: 'ratio', ratio: defaultRatio };
  const rank = num(r, 'rank', '--rank', 1, Number.MAX_SAFE_INTEGER, false);
  if (rank !== undefined) {
    if (!Number.isInteger(rank)) throw new UsageError(`--rank must be a whole number, got ${rank}`);
    rule = { kind: 'rank', rank };
  }
  const ratio = num(r, 'ratio', '--ratio', 0, 1, true);
  if (ratio !== undefined) rule = { kind: 'ratio', ratio };
  const energy = num(r, 'energy', '--energy', 0, 1, true);
  if (energy !== undefined) rule = { kind: 'energy', energy };
  if (r.budget !== undefined && r.budget !== null) rule = { kind: 'budget', ...parseBudget(r.budget) };
  const perLayer = rawBool(r, 'perLayer', '--per-layer') ?? false;
  if (perLayer && rule.kind === 'budget') throw new UsageError('--per-layer does not combine with --budget, which is a whole-model target', 'give --ratio with --per-layer, or drop --per-layer');
  const keepHead = rawBool(r, 'keepHead', '--no-keep-head') ?? true;
  const sensitivity = r.sensitivity === undefined || r.sensitivity === null ? undefined : String(r.sensitivity).trim().toLowerCase();
  if (sensitivity !== undefined && sensitivity !== 'model' && sensitivity !== 'layer') throw new UsageError(`--sensitivity must be one of layer, model; got '${String(r.sensitivity)}'`);
  let exclude: RegExp | undefined;
  if (r.exclude instanceof RegExp) exclude = r.exclude;
  else if (typeof r.exclude === 'string' && r.exclude !== '') {
    try {
      exclude = new RegExp(r.exclude);
    } catch {
      throw new UsageError(`--exclude is not a valid regular expression: '${r.exclude}'`);
    }
  }
  const damp = num(r, 'damp', 'damp', 0, 1, true) ?? 0.01;
  const seed = num(r, 'seed', '--seed', 0, 2 ** 32, false) ?? 0;
  const batchSize = num(r, 'batchSize', '--batch-size', 1, 1e9, false) ?? 32;
  const samples = num(r, 'samples', '--samples', 1, 1e12, false);
  const opts: SvdOptions = { rule, perLayer, keepHead, damp, seed, batchSize: Math.floor(batchSize), dryRun: r.dryRun === true, backend: rawBackend(r) ?? 'auto' };
  if (exclude) opts.exclude = exclude;
  if (sensitivity !== undefined) opts.sensitivity = sensitivity;
  if (samples !== undefined) opts.samples = Math.floor(samples);
  return opts;
}

/** True when the rule is a whole-model target (ranks allocated across layers). */
export function isWholeModel(o: Pick<SvdOptions, 'rule' | 'perLayer'>): boolean {
  return o.rule.kind === 'budget' || (o.rule.kind === 'ratio' && !o.perLayer);
}
