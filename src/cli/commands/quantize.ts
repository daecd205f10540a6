/**
 * `compress quantize`: post-training quantization (int8 / int4 weights, static or dynamic activations,
 * or a float16 conversion). The algorithm and its option rules are src/passes/quantize: this command
 * checks each flag's own form (choices, numbers, a valid regex) before anything else, then hands the
 * flags the user typed to the pass's `parseQuantizeOptions`, which applies the defaults documented below
 * and refuses conflicting combinations; defaults are not passed along, so that the pass can tell what
 * was asked for from what was implied (e.g. --bits 4 implies --granularity group).
 */
import type { Command } from 'commander';
import {
  addCommonOptions,
  addDataOptions,
  givenOn,
  opt,
  parseChoice,
  parseCommonOptions,
  parseDataOptions,
  parseInteger,
  parseList,
  parseNumber,
  parseRegex,
  passFlags,
  type DataOptions,
  type PassFlags,
} from '../options.js';
import type { CliState } from '../program.js';
import { runCompress } from './pipeline.js';

/** --bits values. */
export const quantizeBits = [8, 4] as const;
/** --granularity values. */
export const quantizeGranularities = ['tensor', 'channel', 'group'] as const;
/** --format values. */
export const quantizeFormats = ['qdq', 'matmulnbits', 'qoperator'] as const;
/** --calibration values. */
export const calibrationMethods = ['minmax', 'percentile', 'entropy', 'mse'] as const;

/** The quantize flags the user gave, each checked for its form (camelCased as the API takes them). */
export interface QuantizeFlags extends PassFlags {
  bits?: (typeof quantizeBits)[number];
  weightOnly?: boolean;
  dynamic?: boolean;
  fp16?: boolean;
  granularity?: (typeof quantizeGranularities)[number];
  groupSize?: number;
  symmetric?: boolean;
  asymmetric?: boolean;
  format?: (typeof quantizeFormats)[number];
  calibration?: (typeof calibrationMethods)[number];
  percentile?: number;
  ops?: string[];
  exclude?: string;
  keepSensitive?: boolean;
  keepIoTypes?: boolean;
}

/** Checks the quantize flags the user typed (`given`), leaving defaults and combinations to the pass. */
export function parseQuantizeFlags(raw: Record<string, unknown>, given: (key: string) => boolean): { flags: QuantizeFlags; data: DataOptions } {
  const data = parseDataOptions(raw, 'quantize');
  const flags: QuantizeFlags = passFlags(raw, data);
  if (given('bits')) flags.bits = parseChoice(raw.bits, '--bits', quantizeBits);
  for (const k of ['weightOnly', 'dynamic', 'fp16', 'symmetric', 'asymmetric', 'keepSensitive', 'keepIoTypes'] as const) {
    if (given(k)) flags[k] = raw[k] === true;
  }
  if (given('granularity')) flags.granularity = parseChoice(raw.granularity, '--granularity', quantizeGranularities);
  if (given('groupSize')) flags.groupSize = parseInteger(raw.groupSize, '--group-size', 2, 1 << 20);
  if (given('format')) flags.format = parseChoice(raw.format, '--format', quantizeFormats);
  if (given('calibration')) flags.calibration = parseChoice(raw.calibration, '--calibration', calibrationMethods);
  if (given('percentile')) flags.percentile = parseNumber(raw.percentile, '--percentile', { min: 0, max: 100, minExclusive: true });
  if (given('ops')) flags.ops = parseList(raw.ops, '--ops');
  if (given('exclude')) {
    parseRegex(raw.exclude, '--exclude');
    flags.exclude = String(raw.exclude);
  }
  return { flags, data };
}

/** Declares `compress quantize`. */
export function registerQuantize(program: Command, state: CliState): void {
  const cmd = program
    .command('quantize')
    .summary('quantize weights (and activations) to 8 or 4 bits, or convert to float16')
    .description('Post-training quantization of ONNX models: int8 / int4 weights, static (with --data) or dynamic activations, or a float16 conversion.')
    .argument('<model...>', 'ONNX model files, quoted globs or folders (every .onnx below them); see docs/batch.md');
  cmd
    .addOption(opt('--bits <n>', 'weight precision: 8 | 4 (4 implies --weight-only)', 8))
    .addOption(opt('--weight-only', 'quantize weights only; activations stay float (default: off, but on without --data)'))
    .addOption(opt('--dynamic', 'int8 weights, activations quantized at run time: DynamicQuantizeLinear + MatMulInteger (ConvInteger only when --ops names Conv) (default: off)'))
    .addOption(opt('--fp16', 'convert float weights and compute to float16 (default: off)'))
    .addOption(opt('--granularity <g>', 'one scale per tensor | channel | group (default: channel; group with --bits 4)'))
    .addOption(opt('--group-size <n>', 'group length along the reduction axis, an integer >= 2', 128))
    .addOption(opt('--symmetric', 'signed weights without a zero point (default: on for 8 bits)'))
    .addOption(opt('--asymmetric', 'unsigned weights with a zero point (default: on for 4 bits)'))
    .addOption(opt('--format <f>', 'how quantized weights are written: qdq | matmulnbits | qoperator (default: matmulnbits for 4-bit groups, qdq otherwise)'))
    .addOption(opt('--calibration <m>', 'how activation ranges are chosen (static): minmax | percentile | entropy | mse', 'minmax'))
    .addOption(opt('--percentile <p>', 'share of values the percentile observer keeps, in (0, 100]', 99.99))
    .addOption(
      opt('--ops <list>', 'op types to quantize, comma-separated (static also puts Q/DQ around Concat and the pools; Add and Mul only when listed, and only where both inputs are activations)', 'MatMul,Gemm,Conv,Gather'),
    )
    .addOption(opt('--exclude <regex>', 'nodes whose name matches stay float (default: none)'))
    .addOption(opt('--no-keep-sensitive', 'with --bits 4, also quantize the output head, embeddings and first Conv to 4 bits (default: they stay at 8 bits)'))
    .addOption(opt('--no-keep-io-types', 'with --fp16, make the model inputs and outputs float16 too (default: they stay float32)'));
  addDataOptions(cmd, 'calibration samples for static activation ranges');
  addCommonOptions(cmd, 'quantize');
  cmd.action(async (models: string[], raw: Record<string, unknown>) => {
    const common = parseCommonOptions(raw);
    const { flags, data } = parseQuantizeFlags(raw, givenOn(cmd));
    state.exitCode = await runCompress(state, { command: 'quantize', inputs: models, common, data, options: { ...flags } });
  });
}
