/**
 * The options of `compress quantize`, validated once before any work (STYLE.md habit 7). The raw input is
 * the command line's flags camelCased, with string, number or boolean values; every error names the flag
 * and what it accepts.
 */
import { UsageError } from '../../core/errors.js';
import type { BackendName } from '../../runtime/backend.js';
import type { RTensor } from '../../runtime/value.js';
import { rawBackend, rawBool, rawNumber } from '../shared/raw.js';

/** What gets quantized: weights only, weights and activations (static), dynamic int8, or float16. */
export type QuantizeMode = 'weight-only' | 'static' | 'dynamic' | 'fp16';
export type Granularity = 'tensor' | 'channel' | 'group';
export type QuantFormat = 'qdq' | 'matmulnbits' | 'qoperator';
export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy' | 'mse';

/** One batch of model inputs, by input name (what the calibration readers yield). */
export type FeedBatch = Record<string, RTensor>;
/** Calibration data: any (async) iterable of batches, consumed once, batch by batch. */
export type FeedBatches = Iterable<FeedBatch> | AsyncIterable<FeedBatch>;

export interface QuantizeOptions {
  /** 'auto' becomes 'static' when calibration data is given and 'weight-only' otherwise. */
  mode: QuantizeMode | 'auto';
  bits: 4 | 8;
  granularity: Granularity;
  /** Elements per group along the reduction axis (granularity 'group'). */
  groupSize: number;
  /** Weights: symmetric (signed codes, no zero point) or asymmetric. Activations are always asymmetric uint8. */
  symmetric: boolean;
  /** Undefined: chosen per weight (MatMulNBits for 4-bit MatMul/Gemm groups, DequantizeLinear otherwise). */
  format?: QuantFormat;
  calibration: CalibrationMethod;
  /** Percentile kept by the percentile observer, in (0, 100]. */
  percentile: number;
  /** Op types whose weights (and, for static, activations) are quantized. */
  ops: string[];
  /** Nodes whose name matches stay in float. */
  exclude?: RegExp;
  /** With 4 bits, keep the output head, embedding tables and first Conv at 8 bits. */
  keepSensitive: boolean;
  /** fp16: keep the model's inputs and outputs float32 (Casts at the edges). */
  keepIoTypes: boolean;
  dryRun: boolean;
  seed: number;
  samples?: number;
  batchSize: number;
  /** Executor backend for calibration (static quantization); default auto. */
  backend: BackendName;
  /** The flags the user set, for messages and defaults that depend on them. */
  explicit: ReadonlySet<string>;
}

/** Every flag parseQuantizeOptions accepts, with its default and help text (the CLI documents these). */
export const quantizeFlags: readonly { flag: string; key: string; values: string; default: string; help: string }[] = [
  { flag: '--bits', key: 'bits', values: '8 | 4', default: '8', help: 'weight precision; 4 implies --weight-only' },
  { flag: '--weight-only', key: 'weightOnly', values: 'switch', default: 'off (on without --data)', help: 'quantize weights only; activations stay float' },
  { flag: '--dynamic', key: 'dynamic', values: 'switch', default: 'off', help: 'int8 weights, activations quantized at run time (DynamicQuantizeLinear + MatMulInteger/ConvInteger)' },
  { flag: '--fp16', key: 'fp16', values: 'switch', default: 'off', help: 'convert float weights and compute to float16' },
  { flag: '--granularity', key: 'granularity', values: 'tensor | channel | group', default: 'channel (group with --bits 4)', help: 'one scale per tensor, per output channel, or per group' },
  { flag: '--group-size', key: 'groupSize', values: 'integer >= 2', default: '128', help: 'group length along the reduction axis' },
  { flag: '--symmetric', key: 'symmetric', values: 'switch', default: 'on for 8 bits', help: 'signed weights without zero point' },
  { flag: '--asymmetric', key: 'asymmetric', values: 'switch', default: 'on for 4 bits', help: 'unsigned weights with a zero point' },
  { flag: '--format', key: 'format', values: 'qdq | matmulnbits | qoperator', default: 'matmulnbits for 4-bit groups, qdq otherwise', help: 'how quantized weights are written' },
  { flag: '--calibration', key: 'calibration', values: 'minmax | percentile | entropy | mse', default: 'minmax', help: 'how activation ranges are chosen (static)' },
  { flag: '--percentile', key: 'percentile', values: '(0, 100]', default: '99.99', help: 'share of values the percentile observer keeps' },
  { flag: '--ops', key: 'ops', values: 'comma list of MatMul, Gemm, Conv, Gather, Add, Mul, Concat, MaxPool, AveragePool, GlobalAveragePool', default: 'MatMul,Gemm,Conv,Gather (static adds Concat and the pools)', help: 'op types to quantize' },
  { flag: '--exclude', key: 'exclude', values: 'regex', default: 'none', help: 'nodes whose name matches stay float' },
  { flag: '--no-keep-sensitive', key: 'keepSensitive', values: 'switch', default: 'keep', help: 'with --bits 4, also quantize the output head, embeddings and first Conv to 4 bits' },
  { flag: '--no-keep-io-types', key: 'keepIoTypes', values: 'switch', default: 'keep', help: 'with --fp16, make the model inputs and outputs float16 too' },
];

/** Op types with constant weights that quantize handles. */
export const weightOps = ['MatMul', 'Gemm', 'Conv', 'Gather'] as const;
/** Op types whose activations static quantization puts Q/DQ around (onnxruntime's QDQ registry, the common part). */
export const activationOps = ['Add', 'Mul', 'Concat', 'MaxPool', 'AveragePool', 'GlobalAveragePool'] as const;

const granularities: Granularity[] = ['tensor', 'channel', 'group'];
const formats: QuantFormat[] = ['qdq', 'matmulnbits', 'qoperator'];
const calibrations: CalibrationMethod[] = ['minmax', 'percentile', 'entropy', 'mse'];

function int(raw: Record<string, unknown>, key: string, flag: string, min: number): number | undefined {
  const n = rawNumber(raw, key, flag);
  if (n === undefined) return undefined;
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be an integer >= ${min}; got ${n}`);
  return n;
}

function choice<T extends string>(raw: Record<string, unknown>, key: string, flag: string, allowed: readonly T[]): T | undefined {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return undefined;
  const s = String(v).trim().toLowerCase();
  const hit = allowed.find((a) => a === s);
  if (!hit) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}; got '${String(v)}'`);
  return hit;
}

function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/**
 * Validates the raw flags into QuantizeOptions. Throws UsageError naming the flag and the allowed values,
 * also for conflicting flags (--dynamic with --bits 4, --fp16 with --bits, --symmetric with --asymmetric...).
 */
export function parseQuantizeOptions(raw: Record<string, unknown>): QuantizeOptions {
  const known = new Set(['bits', 'weightOnly', 'dynamic', 'fp16', 'granularity', 'groupSize', 'symmetric', 'asymmetric', 'format', 'calibration', 'percentile', 'ops', 'exclude', 'dryRun', 'seed', 'samples', 'batchSize', 'keepSensitive', 'keepIoTypes', 'backend']);
  const explicit = new Set<string>();
  for (const [k, v] of Object.entries(raw)) if (known.has(k) && v !== undefined && v !== null && v !== '') explicit.add(k);

  const bitsN = rawNumber(raw, 'bits', '--bits');
  if (bitsN !== undefined && bitsN !== 8 && bitsN !== 4) throw new UsageError(`--bits must be 8 or 4; got ${bitsN}`);
  const weightOnly = rawBool(raw, 'weightOnly', '--weight-only') ?? false;
  const dynamic = rawBool(raw, 'dynamic', '--dynamic') ?? false;
  const fp16 = rawBool(raw, 'fp16', '--fp16') ?? false;
  const sym = rawBool(raw, 'symmetric', '--symmetric');
  const asym = rawBool(raw, 'asymmetric', '--asymmetric');
  const granularity = choice(raw, 'granularity', '--granularity', granularities);
  const groupSize = int(raw, 'groupSize', '--group-size', 2);
  const format = choice(raw, 'format', '--format', formats);
  const percentile = rawNumber(raw, 'percentile', '--percentile');
  // --percentile alone asks for the percentile observer.
  const calibration = choice(raw, 'calibration', '--calibration', calibrations) ?? (percentile !== undefined ? 'percentile' : undefined);
  if (percentile !== undefined && !(percentile > 0 && percentile <= 100)) throw new UsageError(`--percentile must be in (0, 100]; got ${percentile}`);
  const seed = int(raw, 'seed', '--seed', 0) ?? 0;
  const samples = int(raw, 'samples', '--samples', 1);
  const batchSize = int(raw, 'batchSize', '--batch-size', 1) ?? 16;
  const dryRun = rawBool(raw, 'dryRun', '--dry-run') ?? false;
  const backend = rawBackend(raw) ?? 'auto';
  const keepSensitive = rawBool(raw, 'keepSensitive', '--keep-sensitive') ?? true;
  const keepIoTypes = rawBool(raw, 'keepIoTypes', '--keep-io-types') ?? true;

  // Conflicts.
  if (sym && asym) throw new UsageError('--symmetric and --asymmetric exclude each other; give one');
  const modes = [weightOnly && '--weight-only', dynamic && '--dynamic', fp16 && '--fp16'].filter(Boolean);
  if (modes.length > 1) throw new UsageError(`${modes.join(' and ')} exclude each other; give one`);
  if (fp16) {
    const bad = ['bits', 'granularity', 'groupSize', 'symmetric', 'asymmetric', 'format', 'calibration', 'percentile'].filter((k) => explicit.has(k));
    if (bad.length > 0) throw new UsageError(`--fp16 takes no integer-quantization flags; drop ${bad.map(flagOf).join(', ')}`);
  }
  if (dynamic && bitsN === 4) throw new UsageError('--dynamic quantizes to 8 bits only; use --bits 8, or --bits 4 --weight-only');
  if (dynamic && (format === 'qdq' || format === 'matmulnbits')) throw new UsageError(`--dynamic writes onnxruntime's QOperator form (MatMulInteger/ConvInteger); --format ${format} does not apply`, 'drop --format or use --format qoperator');
  if ((dynamic || fp16) && (calibration || percentile !== undefined)) throw new UsageError(`--calibration and --percentile apply to static quantization only, not ${dynamic ? '--dynamic' : '--fp16'}`);
  if (percentile !== undefined && calibration !== undefined && calibration !== 'percentile') throw new UsageError(`--percentile applies to --calibration percentile, not ${calibration}`);

  const bits: 4 | 8 = bitsN === 4 ? 4 : 8;
  let mode: QuantizeOptions['mode'] = fp16 ? 'fp16' : dynamic ? 'dynamic' : weightOnly || bits === 4 ? 'weight-only' : 'auto';
  if (mode === 'weight-only' && calibration) throw new UsageError('--calibration applies to static quantization, not to --weight-only (or --bits 4, which is weight-only)');
  if (calibration && mode === 'auto') mode = 'static';

  const g: Granularity = granularity ?? (bits === 4 ? 'group' : 'channel');
  if (g === 'group' && (mode === 'static' || mode === 'dynamic')) {
    throw new UsageError(`--granularity group is for weight-only quantization; ${mode === 'static' ? 'static' : '--dynamic'} int8 kernels take one scale per tensor or channel`, 'use --granularity channel, or add --weight-only');
  }
  if (mode === 'static' && format && format !== 'qdq') {
    throw new UsageError(`static quantization writes QDQ (onnxruntime fuses it into QLinear kernels at load); --format ${format} does not apply`, 'drop --format, or use --dynamic for QOperator int8');
  }
  if ((format === 'matmulnbits' || (format === 'qoperator' && mode !== 'dynamic')) && g !== 'group') throw new UsageError(`--format matmulnbits stores groups along K; it needs --granularity group, not ${g}`);
  const gs = groupSize ?? 128;
  if ((format === 'matmulnbits' || format === 'qoperator') && mode !== 'dynamic' && g === 'group' && (!isPow2(gs) || gs < 16)) {
    throw new UsageError(`--group-size for MatMulNBits must be a power of two >= 16; got ${gs}`, 'use 16, 32, 64, 128 or 256, or --format qdq');
  }
  if (groupSize !== undefined && g !== 'group') throw new UsageError(`--group-size applies to --granularity group, not ${g}`);

  let exclude: RegExp | undefined;
  if (raw.exclude !== undefined && raw.exclude !== null && raw.exclude !== '') {
    try {
      exclude = new RegExp(String(raw.exclude));
    } catch (e) {
      throw new UsageError(`--exclude is not a valid regular expression: ${(e as Error).message}`);
    }
  }
  const allowedOps = [...weightOps, ...activationOps];
  // Add and Mul are opt-in: quantizing the activation sums and products of a transformer block (residuals,
  // gates) cost ppocr-rec-v4 most of its lines with min/max ranges (docs/quantize.md).
  let ops: string[] = mode === 'static' || mode === 'auto' ? [...weightOps, ...activationOps.filter((o) => o !== 'Add' && o !== 'Mul')] : [...weightOps];
  if (raw.ops !== undefined && raw.ops !== null && raw.ops !== '') {
    const list = (Array.isArray(raw.ops) ? raw.ops.map(String) : String(raw.ops).split(',')).map((s) => s.trim()).filter(Boolean);
    for (const o of list) {
      const hit = allowedOps.find((a) => a.toLowerCase() === o.toLowerCase());
      if (!hit) throw new UsageError(`--ops: '${o}' is not an op type quantize handles; use some of ${allowedOps.join(', ')}`);
    }
    ops = list.map((o) => allowedOps.find((a) => a.toLowerCase() === o.toLowerCase())!);
    if (mode === 'weight-only' || mode === 'dynamic') {
      const act = ops.filter((o) => (activationOps as readonly string[]).includes(o));
      if (act.length > 0) throw new UsageError(`--ops ${act.join(',')}: those ops have no weights, and only static quantization touches activations`);
    }
  }
  if (mode === 'fp16' && explicit.has('ops')) throw new UsageError('--ops does not apply to --fp16, which converts the whole model (use --exclude to keep nodes float32)');

  return {
    mode,
    bits,
    granularity: g,
    groupSize: gs,
    symmetric: sym ?? (asym ? false : bits === 8),
    format: format === 'qoperator' && mode !== 'dynamic' ? 'matmulnbits' : format,
    calibration: calibration ?? 'minmax',
    percentile: percentile ?? 99.99,
    ops,
    exclude,
    keepSensitive,
    keepIoTypes,
    dryRun,
    seed,
    samples,
    batchSize,
    backend,
    explicit,
  };
}

function flagOf(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}
