/**
 * `compress prune`: weight pruning, unstructured, N:M semi-structured or whole channels, by magnitude,
 * Wanda (Sun et al., 2023), SparseGPT (Frantar & Alistarh, 2023), channel norms or Taylor scores. The
 * algorithms are src/passes/prune.
 */
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import {
  addCommonOptions,
  addDataOptions,
  givenOn,
  opt,
  parseChoice,
  parseCommonOptions,
  parseDataOptions,
  parseInteger,
  parseNumber,
  passFlags,
  type PassFlags,
  parseRegex,
  type DataOptions,
} from '../options.js';
import type { CliState } from '../program.js';
import { runCompress } from './pipeline.js';

/** --method values. */
export const pruneMethods = ['magnitude', 'wanda', 'sparsegpt', 'l1', 'l2', 'taylor'] as const;
/** --scope values. */
export const pruneScopes = ['layer', 'global'] as const;
/** Methods whose scores need activations (or gradients) from data. */
export const dataMethods: readonly string[] = ['wanda', 'sparsegpt', 'taylor'];

/** A sparsity pattern: unstructured, N:M (n kept of every m), or whole output channels. */
export type PrunePattern = { kind: 'unstructured' } | { kind: 'nm'; n: number; m: number } | { kind: 'channel' };

/** The prune flags the user gave, each checked for its form; the pass applies the defaults. */
export interface PruneFlags extends PassFlags {
  sparsity?: number;
  method?: (typeof pruneMethods)[number];
  pattern?: PrunePattern;
  scope?: (typeof pruneScopes)[number];
  exclude?: string;
  /** false with --no-keep-sensitive: the first layer and the output head are pruned too. */
  keepSensitive?: boolean;
  damp?: number;
  blockSize?: number;
  /** --bias-correction / --no-bias-correction (Wanda, SparseGPT); unset: the method's default. */
  biasCorrection?: boolean;
}

/** `unstructured`, `channel`, or `<n>:<m>` with 0 < n < m (n weights kept in every group of m). */
export function parsePattern(raw: unknown): PrunePattern {
  const s = String(raw);
  if (s === 'unstructured' || s === 'channel') return { kind: s };
  const m = /^(\d+):(\d+)$/.exec(s);
  if (m) {
    const n = Number(m[1]);
    const total = Number(m[2]);
    if (n >= 1 && n < total && total <= 1024) return { kind: 'nm', n, m: total };
  }
  throw new UsageError(`--pattern must be one of unstructured, 2:4, <n>:<m> (0 < n < m), channel (got '${s}')`);
}

/** Checks the prune flags the user typed (`given`), and the combinations the flags alone decide. */
export function parsePruneFlags(raw: Record<string, unknown>, given: (key: string) => boolean): { flags: PruneFlags; data: DataOptions } {
  const data = parseDataOptions(raw, 'prune');
  const flags: PruneFlags = passFlags(raw, data);
  if (given('method')) flags.method = parseChoice(raw.method, '--method', pruneMethods);
  if (given('pattern')) flags.pattern = parsePattern(raw.pattern);
  if (given('sparsity')) flags.sparsity = parseNumber(raw.sparsity, '--sparsity', { min: 0, max: 1, maxExclusive: true });
  if (given('scope')) flags.scope = parseChoice(raw.scope, '--scope', pruneScopes);
  if (given('exclude')) flags.exclude = String(parseRegex(raw.exclude, '--exclude').source);
  if (given('keepSensitive')) flags.keepSensitive = raw.keepSensitive !== false;
  if (given('damp')) flags.damp = parseNumber(raw.damp, '--damp', { min: 0, max: 1, minExclusive: true });
  if (given('blockSize')) flags.blockSize = parseInteger(raw.blockSize, '--block-size', 1, 1 << 20);
  if (given('biasCorrection')) {
    flags.biasCorrection = raw.biasCorrection !== false;
    if (flags.biasCorrection && !['wanda', 'sparsegpt'].includes(flags.method ?? 'magnitude')) {
      throw new UsageError(`--bias-correction works with --method wanda or sparsegpt (it needs their input statistics from --data); got --method ${flags.method ?? 'magnitude'}`, 'drop --bias-correction, or use --method wanda / sparsegpt with --data');
    }
  }
  if (flags.method && dataMethods.includes(flags.method) && data.data === undefined) {
    throw new UsageError(`--method ${flags.method} scores weights with activations and needs --data`, 'give calibration samples with --data, or use --method magnitude');
  }
  const p = flags.pattern;
  if (p?.kind === 'nm' && flags.sparsity !== undefined && Math.abs(flags.sparsity - (1 - p.n / p.m)) > 1e-9) {
    throw new UsageError(`--pattern ${p.n}:${p.m} fixes the sparsity at ${1 - p.n / p.m}; drop --sparsity ${flags.sparsity}`);
  }
  return { flags, data };
}

/** Declares `compress prune`. */
export function registerPrune(program: Command, state: CliState): void {
  const cmd = program
    .command('prune')
    .summary('set weights to zero: unstructured, N:M or whole channels')
    .description('Pruning: zeroes the least important weights (magnitude, Wanda, SparseGPT, channel L1/L2 norms, Taylor scores).')
    .argument('<model...>', 'ONNX model files, quoted globs or folders (every .onnx below them); see docs/batch.md');
  cmd
    .addOption(opt('--sparsity <x>', 'share of weights set to zero, in [0, 1)', 0.5))
    .addOption(opt('--method <m>', `importance score: ${pruneMethods.join(' | ')} (wanda, sparsegpt and taylor need --data)`, 'magnitude'))
    .addOption(opt('--pattern <p>', 'unstructured | 2:4 | <n>:<m> (n kept in every m) | channel', 'unstructured'))
    .addOption(opt('--scope <s>', 'rank weights per layer | global', 'layer'))
    .addOption(opt('--exclude <regex>', 'leave nodes whose name matches untouched (default: none)'))
    .addOption(opt('--no-keep-sensitive', 'also prune the first weight layer and the output head (default: both stay dense)'))
    .addOption(opt('--damp <x>', 'SparseGPT: dampening added to the Hessian diagonal, as a share of its mean, in (0, 1]', 0.01))
    .addOption(opt('--block-size <n>', 'SparseGPT: columns per lazy-update block', 128))
    .addOption(opt('--bias-correction', `wanda, sparsegpt: add each pruned layer's mean output change on --data, (W - W') E[x], to its bias (default: on with --method wanda, off with sparsegpt)`))
    .addOption(opt('--no-bias-correction', 'wanda, sparsegpt: leave the biases as they are (default: see --bias-correction)'));
  addDataOptions(cmd, 'calibration samples for activation-aware methods');
  addCommonOptions(cmd, 'prune');
  cmd.action(async (models: string[], raw: Record<string, unknown>) => {
    const common = parseCommonOptions(raw);
    const { flags, data } = parsePruneFlags(raw, givenOn(cmd));
    state.exitCode = await runCompress(state, { command: 'prune', inputs: models, common, data, options: { ...flags } });
  });
}
