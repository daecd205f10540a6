/**
 * `compress svd`: low-rank factorization of weight matrices, W ~ U_r S_r V_r^T written as two MatMuls;
 * activation-aware with --data (the SVD of W whitened by the Cholesky factor of the inputs' X^T X, as in
 * SVD-LLM, Wang et al., 2024). The algorithm is src/passes/svd; see docs/svd.md.
 */
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import {
  addCommonOptions,
  addDataOptions,
  opt,
  parseByteSize,
  parseChoice,
  parseCommonOptions,
  parseDataOptions,
  parseInteger,
  passFlags,
  type PassFlags,
  parseNumber,
  parseRegex,
  type DataOptions,
} from '../options.js';
import type { CliState } from '../program.js';
import { runCompress } from './pipeline.js';

/** A whole-model budget, in parameters or in bytes. */
export type SvdBudget = { kind: 'params'; value: number } | { kind: 'bytes'; value: number };

/** The svd flags the user gave, each checked for its form; the pass applies the defaults. */
export interface SvdFlags extends PassFlags {
  rank?: number;
  ratio?: number;
  energy?: number;
  budget?: SvdBudget;
  perLayer?: boolean;
  keepHead?: boolean;
  sensitivity?: 'layer' | 'model';
  exclude?: string;
}

/** The target the help documents for when none of --rank / --ratio / --energy is given. */
export const defaultSvdRatio = 0.5;

/** `1e6` or `250000` are parameters; `10MB`, `4MiB`, `500kB` are bytes. */
export function parseBudget(raw: unknown): SvdBudget {
  const s = String(raw).trim();
  if (/^\d+(\.\d+)?(e\d+)?$/i.test(s)) return { kind: 'params', value: parseInteger(Math.round(Number(s)), '--budget', 1) };
  return { kind: 'bytes', value: parseByteSize(s, '--budget') };
}

/** The ways a whole-model target ranks layers (`--sensitivity`). */
export const svdSensitivities = ['layer', 'model'] as const;

/** Checks the svd flags the user gave (at most one of --rank, --ratio, --energy; --per-layer not with --budget). */
export function parseSvdFlags(raw: Record<string, unknown>): { flags: SvdFlags; data: DataOptions } {
  const data = parseDataOptions(raw, 'svd');
  const set = (['rank', 'ratio', 'energy'] as const).filter((k) => raw[k] !== undefined);
  if (set.length > 1) throw new UsageError(`--${set.join(' and --')} cannot be used together`, 'give one of --rank, --ratio, --energy');
  const flags: SvdFlags = passFlags(raw, data);
  if (raw.rank !== undefined) flags.rank = parseInteger(raw.rank, '--rank', 1);
  if (raw.ratio !== undefined) flags.ratio = parseNumber(raw.ratio, '--ratio', { min: 0, max: 1, minExclusive: true });
  if (raw.energy !== undefined) flags.energy = parseNumber(raw.energy, '--energy', { min: 0, max: 1, minExclusive: true });
  if (raw.budget !== undefined) flags.budget = parseBudget(raw.budget);
  if (raw.perLayer === true) flags.perLayer = true;
  if (flags.perLayer && flags.budget) throw new UsageError('--per-layer does not combine with --budget, which is a whole-model target', 'give --ratio with --per-layer, or drop --per-layer');
  if (raw.keepHead === false) flags.keepHead = false;
  if (raw.sensitivity !== undefined) flags.sensitivity = parseChoice(raw.sensitivity, '--sensitivity', svdSensitivities);
  if (raw.exclude !== undefined) flags.exclude = String(parseRegex(raw.exclude, '--exclude').source);
  return { flags, data };
}

/** Declares `compress svd`. */
export function registerSvd(program: Command, state: CliState): void {
  const cmd = program
    .command('svd')
    .summary('replace weight matrices by low-rank factors')
    .description('Low-rank factorization: each weight matrix becomes two thinner ones (activation-aware with --data).')
    .argument('<model...>', 'ONNX model files, quoted globs or folders (every .onnx below them); see docs/batch.md');
  cmd
    .addOption(opt('--rank <r>', 'keep this rank in every matrix (default: none)'))
    .addOption(opt('--ratio <x>', `share of the parameters kept, in (0, 1]: of all the factorizable weight matrices together, ranks spread by sensitivity; with --per-layer, of each matrix (default: ${defaultSvdRatio} when no other target is given)`))
    .addOption(opt('--energy <x>', "share of each matrix's spectral energy (sum of squared singular values) kept, in (0, 1] (default: none)"))
    .addOption(opt('--budget <n>', 'whole-model target: parameters of the factorizable weight matrices (1e6), or bytes of all the weights (10MB) (default: none)'))
    .addOption(opt('--per-layer', 'apply --ratio to each matrix alike instead of spreading ranks across the model (default: off)'))
    .addOption(opt('--no-keep-head', 'also factorize the output head (default: it is kept whole, and counted as kept)'))
    .addOption(opt('--sensitivity <s>', "how a whole-model target ranks layers: model (the model's output error with each layer alone at a few ranks; needs --data, one forward pass per layer and rank) | layer (each layer's own truncation error: its output error on --data, whitened; its weight spectrum without) (default: model with --data, layer without)"))
    .addOption(opt('--exclude <regex>', 'leave nodes whose name matches untouched (default: none)'));
  addDataOptions(cmd, 'samples for activation-aware factorization');
  addCommonOptions(cmd, 'svd');
  cmd.action(async (models: string[], raw: Record<string, unknown>) => {
    const common = parseCommonOptions(raw);
    const { flags, data } = parseSvdFlags(raw);
    state.exitCode = await runCompress(state, { command: 'svd', inputs: models, common, data, options: { ...flags } });
  });
}
