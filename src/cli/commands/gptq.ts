/**
 * `compress gptq`: GPTQ weight quantization (Frantar et al., 2022, "GPTQ: Accurate Post-Training
 * Quantization for Generative Pre-trained Transformers"), which needs calibration data. The algorithm
 * is src/passes/gptq.
 */
import type { Command } from 'commander';
import {
  addCommonOptions,
  addDataOptions,
  opt,
  parseChoice,
  givenOn,
  parseCommonOptions,
  parseDataOptions,
  passFlags,
  type PassFlags,
  parseInteger,
  parseNumber,
  parseRegex,
  type DataOptions,
} from '../options.js';
import type { CliState } from '../program.js';
import { runCompress } from './pipeline.js';

/** --bits values gptq accepts. */
export const gptqBits = [4, 3, 8, 2] as const;
/** --format values gptq accepts. */
export const gptqFormats = ['matmulnbits', 'qdq'] as const;

/** The gptq flags the user gave, each checked for its form; the pass applies the defaults. */
export interface GptqFlags extends PassFlags {
  bits?: (typeof gptqBits)[number];
  groupSize?: number;
  actOrder?: boolean;
  damp?: number;
  blockSize?: number;
  symmetric?: boolean;
  format?: (typeof gptqFormats)[number];
  ops?: string;
  keepSensitive?: boolean;
  exclude?: string;
}

/** Checks the gptq flags the user typed (`given`). */
export function parseGptqFlags(raw: Record<string, unknown>, given: (key: string) => boolean): { flags: GptqFlags; data: DataOptions } {
  const data = parseDataOptions(raw, 'gptq', true);
  const flags: GptqFlags = passFlags(raw, data);
  if (given('bits')) flags.bits = parseChoice(raw.bits, '--bits', gptqBits);
  if (given('groupSize')) flags.groupSize = String(raw.groupSize).trim() === '-1' ? -1 : parseInteger(raw.groupSize, '--group-size', 1, 1 << 20);
  if (given('actOrder')) flags.actOrder = true;
  if (given('damp')) flags.damp = parseNumber(raw.damp, '--damp', { min: 0, max: 1, minExclusive: true });
  if (given('blockSize')) flags.blockSize = parseInteger(raw.blockSize, '--block-size', 1, 1 << 20);
  if (given('symmetric')) flags.symmetric = true;
  if (given('format')) flags.format = parseChoice(raw.format, '--format', gptqFormats);
  if (given('ops')) flags.ops = String(raw.ops);
  if (given('keepSensitive')) flags.keepSensitive = raw.keepSensitive !== false;
  if (given('exclude')) flags.exclude = String(parseRegex(raw.exclude, '--exclude').source);
  return { flags, data };
}

/** Declares `compress gptq`. */
export function registerGptq(program: Command, state: CliState): void {
  const cmd = program
    .command('gptq')
    .summary('GPTQ weight quantization (needs calibration data)')
    .description('GPTQ: quantizes MatMul/Gemm/Conv weights column by column, correcting the error with the inverse Hessian of the calibration activations.')
    .argument('<model...>', 'ONNX model files, quoted globs or folders (every .onnx below them); see docs/batch.md');
  cmd
    .addOption(opt('--bits <n>', 'bits per weight: 4 | 3 | 8 | 2 (3 and 2 are stored in 4-bit containers)', 4))
    .addOption(opt('--group-size <n>', 'weights per scale along the input axis; -1 = one scale per output channel', 128))
    .addOption(opt('--act-order', 'quantize columns in order of decreasing activation size', false))
    .addOption(opt('--damp <x>', 'dampening added to the Hessian diagonal, as a fraction of its mean, in (0, 1]', 0.01))
    .addOption(opt('--block-size <n>', 'columns updated together (lazy batch updates)', 128))
    .addOption(opt('--symmetric', 'symmetric quantization (zero point at the middle)', false))
    .addOption(opt('--format <f>', 'how MatMul/Gemm weights are written: matmulnbits | qdq (Convs and 8-bit per-channel layers are always DequantizeLinear)', 'matmulnbits'))
    .addOption(opt('--ops <list>', 'op types to quantize: some of MatMul, Gemm, Conv (a Conv as the matrix of its input patches)', 'MatMul,Gemm,Conv'))
    .addOption(opt('--no-keep-sensitive', 'with fewer than 8 bits, also quantize the output head and the first Conv to --bits (default: both stay at 8 bits, per channel, as in quantize)'))
    .addOption(opt('--exclude <regex>', 'keep nodes whose name matches in float (default: none)'));
  addDataOptions(cmd, 'calibration samples', true);
  addCommonOptions(cmd, 'gptq');
  cmd.action(async (models: string[], raw: Record<string, unknown>) => {
    const common = parseCommonOptions(raw);
    const { flags, data } = parseGptqFlags(raw, givenOn(cmd));
    state.exitCode = await runCompress(state, { command: 'gptq', inputs: models, common, data, options: { ...flags } });
  });
}
