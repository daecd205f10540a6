/**
 * The options of `compress prune`, validated once before any work (STYLE.md habit 7). The raw input is the
 * command line's flags camelCased (or what a script hands to `prune(model, options)`); every error names the
 * flag and what it accepts.
 */
import { UsageError } from '../../core/errors.js';
import type { BackendName } from '../../runtime/backend.js';
import { rawBackend, rawBool, rawNumber } from '../shared/raw.js';

/** How weights are scored. magnitude / wanda / sparsegpt zero single weights; l1 / l2 / taylor rank channels. */
export type PruneMethod = 'magnitude' | 'wanda' | 'sparsegpt' | 'l1' | 'l2' | 'taylor';
/** Which weights may go: any (unstructured), n kept of every m consecutive inputs, or whole output channels. */
export type PrunePattern = { kind: 'unstructured' } | { kind: 'nm'; n: number; m: number } | { kind: 'channel' };
/** Rank weights within each layer, or across all layers at once (magnitude only). */
export type PruneScope = 'layer' | 'global';

/** The validated options of the prune pass. */
export interface PruneOptions {
  /**
   * Share of the weights (unstructured) or of the output channels (channel) removed from each pruned layer,
   * or, with --scope global, from all pruned layers together. For n:m it is 1 - n/m.
   */
  sparsity: number;
  method: PruneMethod;
  pattern: PrunePattern;
  scope: PruneScope;
  /** Nodes whose name matches are left untouched. */
  exclude?: RegExp;
  /**
   * Spare the most sensitive layers: the first weight layer of the network (it sees the raw input) and the
   * output head(s) (every error there reaches the prediction undamped). On by default.
   */
  keepSensitive: boolean;
  /** SparseGPT: dampening added to the Hessian diagonal, as a share of its mean (llm-compressor: 0.01). */
  damp: number;
  /** SparseGPT: columns per lazy-update block (Frantar & Alistarh 2023 use 128). */
  blockSize: number;
  /**
   * Wanda / SparseGPT: add each pruned layer's mean output change (W - Ŵ) E[x], measured on the calibration
   * inputs, to its bias (bias.ts). Methods without data never do.
   */
  biasCorrection: boolean;
  /** Taylor: labels for the loss; without them the model's own argmax is the target. */
  labels?: Int32Array;
  dryRun: boolean;
  seed: number;
  /** Executor backend for scoring and checks on data; default auto. */
  backend: BackendName;
}

export const pruneMethodNames: readonly PruneMethod[] = ['magnitude', 'wanda', 'sparsegpt', 'l1', 'l2', 'taylor'];
/** Methods that score single weights (unstructured and n:m patterns). */
export const weightMethods: readonly PruneMethod[] = ['magnitude', 'wanda', 'sparsegpt'];
/** Methods that rank whole channels (channel pattern). */
export const channelMethods: readonly PruneMethod[] = ['l1', 'l2', 'taylor'];
/** Methods that need --data. */
export const dataNeedingMethods: readonly PruneMethod[] = ['wanda', 'sparsegpt', 'taylor'];
/** Methods that can correct biases (they gather input statistics on --data), and whether they do by default. */
export const biasCorrectionDefaults: Readonly<Partial<Record<PruneMethod, boolean>>> = { wanda: true, sparsegpt: false };

/** Every flag parsePruneOptions accepts, with its default (the CLI documents these). */
export const pruneFlags: readonly { flag: string; key: string; values: string; default: string; help: string }[] = [
  { flag: '--sparsity', key: 'sparsity', values: '[0, 1)', default: '0.5', help: 'share of weights (or channels) removed' },
  { flag: '--method', key: 'method', values: pruneMethodNames.join(' | '), default: 'magnitude (l1 with --pattern channel)', help: 'importance score' },
  { flag: '--pattern', key: 'pattern', values: 'unstructured | 2:4 | <n>:<m> | channel', default: 'unstructured', help: 'which weights may go' },
  { flag: '--scope', key: 'scope', values: 'layer | global', default: 'layer', help: 'rank per layer or across layers (magnitude)' },
  { flag: '--exclude', key: 'exclude', values: 'regex', default: 'none', help: 'nodes whose name matches stay dense' },
  { flag: '--no-keep-sensitive', key: 'keepSensitive', values: 'switch', default: 'keep', help: 'also prune the first layer and the output head' },
  { flag: '--[no-]bias-correction', key: 'biasCorrection', values: 'switch', default: 'on for wanda, off for sparsegpt', help: 'add each pruned layer\'s mean output change to its bias (wanda, sparsegpt)' },
  { flag: '--damp', key: 'damp', values: '(0, 1]', default: '0.01', help: 'SparseGPT Hessian dampening (share of mean diagonal)' },
  { flag: '--block-size', key: 'blockSize', values: 'integer >= 1', default: '128', help: 'SparseGPT lazy-update block width' },
];

/** `unstructured`, `channel`, or `<n>:<m>` with 0 < n < m (n weights kept of every m). Objects pass through checked. */
export function parsePrunePattern(v: unknown): PrunePattern {
  if (v && typeof v === 'object') {
    const p = v as Partial<PrunePattern> & { n?: number; m?: number };
    if (p.kind === 'unstructured' || p.kind === 'channel') return { kind: p.kind };
    if (p.kind === 'nm' && Number.isInteger(p.n) && Number.isInteger(p.m) && p.n! >= 1 && p.n! < p.m!) return { kind: 'nm', n: p.n!, m: p.m! };
    throw new UsageError(`--pattern: not a pattern: ${JSON.stringify(v)}`, 'use unstructured, 2:4, <n>:<m> (0 < n < m) or channel');
  }
  const s = String(v).trim().toLowerCase();
  if (s === 'unstructured' || s === 'channel') return { kind: s };
  const m = /^(\d+):(\d+)$/.exec(s);
  if (m) {
    const n = Number(m[1]);
    const total = Number(m[2]);
    if (n >= 1 && n < total && total <= 1024) return { kind: 'nm', n, m: total };
  }
  throw new UsageError(`--pattern must be one of unstructured, 2:4, <n>:<m> (0 < n < m <= 1024), channel; got '${s}'`);
}

/**
 * Validates raw flags into PruneOptions. Conflicts are usage errors: a channel method with a weight pattern
 * (or the reverse), --scope global with anything but magnitude, --sparsity that contradicts an n:m pattern.
 */
export function parsePruneOptions(raw: Record<string, unknown> = {}): PruneOptions {
  const pattern = raw.pattern === undefined || raw.pattern === null || raw.pattern === '' ? ({ kind: 'unstructured' } as PrunePattern) : parsePrunePattern(raw.pattern);
  let method: PruneMethod | undefined;
  if (raw.method !== undefined && raw.method !== null && raw.method !== '') {
    const s = String(raw.method).trim().toLowerCase();
    method = pruneMethodNames.find((x) => x === s);
    if (!method) throw new UsageError(`--method must be one of ${pruneMethodNames.join(', ')}; got '${String(raw.method)}'`);
  }
  if (pattern.kind === 'channel') {
    // A channel's magnitude is its L1 norm (Li et al. 2017, "Pruning Filters for Efficient ConvNets").
    if (method === undefined || method === 'magnitude') method = 'l1';
    if (!channelMethods.includes(method)) {
      throw new UsageError(`--method ${method} scores single weights; --pattern channel ranks whole channels`, 'use --method l1, l2 or taylor with --pattern channel');
    }
  } else {
    method ??= 'magnitude';
    if (!weightMethods.includes(method)) {
      throw new UsageError(`--method ${method} ranks whole channels and needs --pattern channel`, 'add --pattern channel, or use --method magnitude, wanda or sparsegpt');
    }
  }
  const scopeRaw = raw.scope === undefined || raw.scope === null || raw.scope === '' ? 'layer' : String(raw.scope).trim().toLowerCase();
  if (scopeRaw !== 'layer' && scopeRaw !== 'global') throw new UsageError(`--scope must be layer or global; got '${scopeRaw}'`);
  const scope = scopeRaw as PruneScope;
  if (scope === 'global' && method !== 'magnitude') {
    throw new UsageError(`--scope global ranks raw magnitudes across layers and works with --method magnitude only (got ${method})`, 'drop --scope global: Wanda and SparseGPT compare weights within a layer');
  }
  let sparsity = rawNumber(raw, 'sparsity', '--sparsity');
  if (pattern.kind === 'nm') {
    const implied = 1 - pattern.n / pattern.m;
    if (sparsity !== undefined && Math.abs(sparsity - implied) > 1e-9) {
      throw new UsageError(`--pattern ${pattern.n}:${pattern.m} fixes the sparsity at ${implied}; drop --sparsity ${sparsity}`);
    }
    if (scope === 'global') throw new UsageError(`--scope global does not apply to --pattern ${pattern.n}:${pattern.m}: every group of ${pattern.m} keeps exactly ${pattern.n}`);
    sparsity = implied;
  }
  sparsity ??= 0.5;
  if (!(sparsity >= 0 && sparsity < 1)) throw new UsageError(`--sparsity must be in [0, 1); got ${sparsity}`);
  let exclude: RegExp | undefined;
  if (raw.exclude instanceof RegExp) exclude = raw.exclude;
  else if (raw.exclude !== undefined && raw.exclude !== null && raw.exclude !== '') {
    try {
      exclude = new RegExp(String(raw.exclude));
    } catch (e) {
      throw new UsageError(`--exclude is not a valid regular expression: ${(e as Error).message}`);
    }
  }
  const damp = rawNumber(raw, 'damp', '--damp') ?? 0.01;
  if (!(damp > 0 && damp <= 1)) throw new UsageError(`--damp must be in (0, 1]; got ${damp}`);
  const blockSize = rawNumber(raw, 'blockSize', '--block-size') ?? 128;
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new UsageError(`--block-size must be an integer >= 1; got ${blockSize}`);
  const bc = rawBool(raw, 'biasCorrection', '--bias-correction');
  const bcDefault = biasCorrectionDefaults[method];
  if (bc === true && bcDefault === undefined) {
    throw new UsageError(`--bias-correction needs input statistics from --data and works with --method wanda or sparsegpt (got ${method})`, 'drop --bias-correction, or use --method wanda / sparsegpt with --data');
  }
  const seed = rawNumber(raw, 'seed', '--seed') ?? 0;
  const labels = raw.labels instanceof Int32Array ? raw.labels : undefined;
  return {
    sparsity,
    method,
    pattern,
    scope,
    exclude,
    keepSensitive: rawBool(raw, 'keepSensitive', '--no-keep-sensitive') ?? true,
    damp,
    blockSize,
    biasCorrection: bc ?? bcDefault ?? false,
    labels,
    dryRun: rawBool(raw, 'dryRun', '--dry-run') ?? false,
    seed,
    backend: rawBackend(raw) ?? 'auto',
  };
}

/** "2:4", "unstructured", "channel". */
export function patternName(p: PrunePattern): string {
  return p.kind === 'nm' ? `${p.n}:${p.m}` : p.kind;
}
