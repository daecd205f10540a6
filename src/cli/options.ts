/**
 * Option declarations and validation shared by the subcommands.
 *
 * Commander only splits the command line; every value is checked here, once, before any work
 * (STYLE.md habit 7), and a bad value becomes a UsageError (exit 2) that names the flag, the allowed
 * values and what was given. The declarations carry the documented default so that `--help` shows it.
 * This module stays light: `compress --help` loads it, so it imports nothing heavy (types only).
 */
import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { UsageError } from '../core/errors.js';
import type { GateLimits } from '../report/index.js';
import type { BackendName } from '../runtime/backend.js';
import { parseShard, type Shard } from './batch/shard.js';

/** The backends of CLI.md (the same list as runtime/backend.ts, kept here so --help does not load tfjs). */
export const backendChoices = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const satisfies readonly BackendName[];

/** --backend's help line (every command that runs the executor has the flag). */
export const backendHelp = `executor backend: ${backendChoices.join(' | ')} (auto: $COMPRESS_BACKEND if set, else the first of tfjs-node-gpu, tfjs-node, wasm, cpu that loads; tfjs-node: npm run setup:native)`;

/** The evaluation tasks of CLI.md. */
export const taskChoices = ['auto', 'classification', 'lm', 'regression'] as const;
/** A --task value. */
export type TaskKind = (typeof taskChoices)[number];

/** Options every compressing command takes (CLI.md "Common to every command"). */
export interface CommonOptions {
  /** Output model path; with several input models, a directory. */
  output?: string;
  /** Report JSON path; false for --no-report; undefined for the default `<output>.report.json`. */
  report?: string | false;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  backend: BackendName;
  seed: number;
  dryRun: boolean;
  force: boolean;
  /** Models processed at the same time, each in its own worker thread (--jobs, default 1). */
  jobs: number;
  /** Threads of the wasm backend (--threads); undefined: COMPRESS_THREADS, else the cores over --jobs. */
  threads?: number;
  /** The report gates (--max-size ... --min-agreement); a failed gate exits 1. */
  gates?: GateLimits;
  /** --skip-existing: leave outputs that are complete and were made from the same input and options. */
  skipExisting?: boolean;
  /** --summary FILE: one JSON with a row per model. */
  summary?: string;
  /** --shard i/n: this run's share of the sorted inputs. */
  shard?: Shard;
}

/** The commands that take several models, and with them the batch flags (--skip-existing, --summary, --shard). */
export const batchCommands: readonly string[] = ['quantize', 'gptq', 'prune', 'svd', 'run'];

/** The data options of CLI.md ("Data for calibration, evaluation and training"). */
export interface DataOptions {
  data?: string;
  labels?: string;
  task: TaskKind;
  samples?: number;
  batchSize: number;
}

/** Default batch size of the forward passes (distill documents 32; the others use the same). */
export const defaultBatchSize = 32;

/** A commander Option with a description and (when given) a default that --help shows. */
export function opt(flags: string, description: string, defaultValue?: unknown, defaultDescription?: string): Option {
  const o = new Option(flags, description);
  if (defaultValue !== undefined) o.default(defaultValue, defaultDescription);
  return o;
}

/** Adds -o/--output ... --force to a compressing command. */
export function addCommonOptions(cmd: Command, command: string): Command {
  cmd
    .addOption(opt('-o, --output <path>', `output model; with several input models, a directory (default: <name>.${command}.onnx beside the input; never the input itself)`))
    .addOption(opt('--report <path>', 'where the report JSON goes (default: <output>.report.json)'))
    .addOption(opt('--no-report', 'do not write the report JSON'))
    .addOption(opt('--force', 'overwrite an existing output file', false))
    .addOption(opt('--dry-run', 'print the plan (nodes touched, expected bytes, opset needed) and write nothing', false))
    .addOption(opt('--jobs <n>', 'with several input models: how many are processed at the same time, each in its own worker thread', 1));
  if (batchCommands.includes(command)) addBatchOptions(cmd, command);
  cmd
    .addOption(opt('--seed <n>', 'seed of every random choice: same inputs + options + seed = same output bytes', 0))
    .addOption(opt('--backend <name>', backendHelp, 'auto'))
    .addOption(opt('--threads <n>', 'threads of the wasm backend, and of TensorFlow\'s ops on tfjs-node (default: $COMPRESS_THREADS, else every core, shared among --jobs)'))
    .addOption(opt('--json', 'print the final report as JSON on stdout (human text goes to stderr)', false))
    .addOption(opt('--quiet', 'no progress bars or informational lines', false))
    .addOption(opt('--verbose', 'debug detail, and stack traces for internal errors', false));
  return addGateOptions(cmd);
}

/** Adds --skip-existing, --summary and --shard (docs/batch.md). */
function addBatchOptions(cmd: Command, command: string): Command {
  return cmd
    .addOption(opt('--skip-existing', `leave an output that is complete and was made from the same input (content hash), output-shaping options and backend, as its <output>.manifest.json records; redo the others`, false))
    .addOption(opt('--summary <file>', 'write one JSON with a row per model: status, exit code, bytes before/after, metrics, gates (default: none)'))
    .addOption(opt('--shard <i/n>', `take the i-th (1-based) of n deterministic shares of the sorted inputs; the output tree is computed from all of them, so n runs given i = 1..n write what one ${command} run would (default: all)`));
}

/** Adds the report gates (CLI.md): every compressing command and `compress report` take the same ones. */
export function addGateOptions(cmd: Command): Command {
  return cmd
    .addOption(opt('--max-size <bytes>', 'gate: the (compressed) model is at most this big, e.g. 5000000, 10MB or 1.5GiB (default: none)'))
    .addOption(opt('--min-ratio <x>', 'gate: original bytes / compressed bytes is at least x (default: none)'))
    .addOption(opt('--max-accuracy-drop <points>', 'gate: accuracy drops by at most this many percentage points; needs --data and --labels (default: none)'))
    .addOption(opt('--max-perplexity-increase <fraction>', 'gate: perplexity grows by at most this fraction, e.g. 0.05; needs --data (default: none)'))
    .addOption(opt('--min-agreement <x>', 'gate: top-1 predictions agree on at least this share of samples, in [0, 1]; needs --data (default: none)'));
}

/** Validates the gate flags commander collected (a bad value names its flag: exit 2). */
export function parseGateLimits(raw: Record<string, unknown>): GateLimits {
  const gates: GateLimits = {};
  if (raw.maxSize !== undefined) gates.maxSize = parseByteSize(raw.maxSize, '--max-size');
  if (raw.minRatio !== undefined) gates.minRatio = parseNumber(raw.minRatio, '--min-ratio', { min: 0, minExclusive: true });
  if (raw.maxAccuracyDrop !== undefined) gates.maxAccuracyDrop = parseNumber(raw.maxAccuracyDrop, '--max-accuracy-drop', { min: 0, max: 100 });
  if (raw.maxPerplexityIncrease !== undefined) gates.maxPerplexityIncrease = parseNumber(raw.maxPerplexityIncrease, '--max-perplexity-increase', { min: 0 });
  if (raw.minAgreement !== undefined) gates.minAgreement = parseNumber(raw.minAgreement, '--min-agreement', { min: 0, max: 1 });
  return gates;
}

/** Adds --data ... --batch-size. */
export function addDataOptions(cmd: Command, what: string, required = false): Command {
  const dataHelp = `${what}: a .npy (single-input models), an .npz (one array per input name), a folder in the ONNX test layout (test_data_set_*/input_<k>.pb), or random:<n> (synthetic; measures nothing about accuracy)`;
  return cmd
    .addOption(opt('--data <path>', required ? `${dataHelp} (required)` : `${dataHelp} (default: none)`))
    .addOption(opt('--labels <path>', '.npy of integer class labels, one per sample (default: none)'))
    .addOption(opt('--task <kind>', `what the model does, for evaluation: ${taskChoices.join(' | ')}; with lm (and auto), token ids alone feed a decoder that also takes attention_mask, position_ids or past key/values (filled as for a first step)`, 'auto'))
    .addOption(opt('--samples <n>', 'use at most n samples (default: all)'))
    .addOption(opt('--batch-size <n>', 'samples per forward pass', defaultBatchSize));
}

/** Validates the common options commander collected. */
export function parseCommonOptions(raw: Record<string, unknown>): CommonOptions {
  const json = raw.json === true;
  const quiet = raw.quiet === true;
  const verbose = raw.verbose === true;
  if (quiet && verbose) throw new UsageError('--quiet and --verbose cannot be used together', 'pick one');
  const report = raw.report === false ? false : raw.report === undefined || raw.report === true ? undefined : str(raw.report, '--report');
  return {
    output: raw.output === undefined ? undefined : str(raw.output, '--output'),
    report,
    json,
    quiet,
    verbose,
    backend: parseChoice(raw.backend ?? 'auto', '--backend', backendChoices),
    seed: parseInteger(raw.seed ?? 0, '--seed', 0, 2 ** 32 - 1),
    dryRun: raw.dryRun === true,
    force: raw.force === true,
    jobs: parseInteger(raw.jobs ?? 1, '--jobs', 1, 64),
    ...(raw.threads !== undefined ? { threads: parseInteger(raw.threads, '--threads', 1, 256) } : {}),
    gates: parseGateLimits(raw),
    ...(raw.skipExisting === true ? { skipExisting: true } : {}),
    ...(raw.summary !== undefined ? { summary: str(raw.summary, '--summary') } : {}),
    ...(raw.shard !== undefined ? { shard: parseShard(raw.shard) } : {}),
  };
}

/** Validates the data options; `requireData` for commands that cannot work without --data. */
export function parseDataOptions(raw: Record<string, unknown>, command: string, requireData = false): DataOptions {
  const data = raw.data === undefined ? undefined : str(raw.data, '--data');
  if (requireData && data === undefined) {
    throw new UsageError(`compress ${command} needs --data`, 'give calibration samples: --data calib.npy (or random:<n> to try it out, which measures nothing)');
  }
  const labels = raw.labels === undefined ? undefined : str(raw.labels, '--labels');
  if (labels !== undefined && data === undefined) throw new UsageError('--labels needs --data', 'give the samples the labels belong to with --data');
  if (data !== undefined) parseDataSpec(data);
  if (data !== undefined && !data.startsWith('random:')) mustExist(data, '--data');
  if (labels !== undefined) mustExist(labels, '--labels');
  return {
    data,
    labels,
    task: parseChoice(raw.task ?? 'auto', '--task', taskChoices),
    samples: raw.samples === undefined ? undefined : parseInteger(raw.samples, '--samples', 1),
    batchSize: parseInteger(raw.batchSize ?? defaultBatchSize, '--batch-size', 1, 1 << 20),
  };
}

/**
 * What every pass receives besides its own flags (CLI.md: the same options as the flags, camelCased):
 * the seed, backend, batch size, dry-run switch and the data options that were given.
 */
export interface PassFlags {
  seed: number;
  backend: BackendName;
  batchSize: number;
  dryRun: boolean;
  samples?: number;
  data?: string;
  labels?: string;
  task?: TaskKind;
}

/** The PassFlags of a command line (after parseDataOptions). */
export function passFlags(raw: Record<string, unknown>, data: DataOptions): PassFlags {
  const common = parseCommonOptions(raw);
  const flags: PassFlags = { seed: common.seed, backend: common.backend, batchSize: data.batchSize, dryRun: common.dryRun };
  if (data.samples !== undefined) flags.samples = data.samples;
  if (data.data !== undefined) flags.data = data.data;
  if (data.labels !== undefined) flags.labels = data.labels;
  if (data.task !== 'auto') flags.task = data.task;
  return flags;
}

/** Checks the form of a --data value (`random:<n>` needs a positive integer). Files are checked later. */
export function parseDataSpec(spec: string): void {
  if (spec.startsWith('random:')) {
    const n = spec.slice('random:'.length);
    if (!/^\d+$/.test(n) || Number(n) < 1) {
      throw new UsageError(`--data '${spec}': random:<n> needs a positive integer sample count`, 'for example --data random:64');
    }
  }
}

/** A path a flag names must exist (a missing file is a usage error, exit 2). */
export function mustExist(path: string, flag: string): void {
  if (!existsSync(path)) throw new UsageError(`${flag} '${path}' does not exist`);
}

/** Tells whether the user typed an option (rather than commander filling its default). */
export function givenOn(cmd: Command): (key: string) => boolean {
  return (key) => cmd.getOptionValueSource(key) === 'cli';
}

function str(v: unknown, flag: string): string {
  if (typeof v !== 'string' || v === '') throw new UsageError(`${flag} needs a value`);
  return v;
}

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : String(v);
}

/** One of `choices` (compared as strings, so `--bits 4` matches the choice '4'). */
export function parseChoice<T extends string | number>(raw: unknown, flag: string, choices: readonly T[]): T {
  const hit = choices.find((c) => String(c) === String(raw));
  if (hit === undefined) throw new UsageError(`${flag} must be one of ${choices.join(', ')} (got ${show(raw)})`);
  return hit;
}

/** A number, finite, within [min, max] (or the open ends when `exclusive` says so). */
export function parseNumber(
  raw: unknown,
  flag: string,
  range: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean } = {},
): number {
  const text = String(raw).trim();
  const v = typeof raw === 'number' ? raw : text === '' ? NaN : Number(text);
  const { min = -Infinity, max = Infinity, minExclusive = false, maxExclusive = false } = range;
  const lo = `${minExclusive ? '(' : '['}${min === -Infinity ? '-inf' : min}`;
  const hi = `${max === Infinity ? 'inf' : max}${maxExclusive ? ')' : ']'}`;
  const ok = Number.isFinite(v) && (minExclusive ? v > min : v >= min) && (maxExclusive ? v < max : v <= max);
  if (!ok) throw new UsageError(`${flag} must be a number in ${lo}, ${hi} (got ${show(raw)})`);
  return v;
}

/** An integer within [min, max]. */
export function parseInteger(raw: unknown, flag: string, min = -Infinity, max = Infinity): number {
  const text = String(raw).trim();
  const v = typeof raw === 'number' ? raw : /^[+-]?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    const range = max === Infinity ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
    throw new UsageError(`${flag} must be ${range} (got ${show(raw)})`);
  }
  return v;
}

const sizeUnits: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  k: 1e3,
  m: 1e6,
  g: 1e9,
};

/** A byte size: `123456`, `10MB`, `1.5GiB` (decimal kB/MB/GB, binary KiB/MiB/GiB). */
export function parseByteSize(raw: unknown, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([a-zA-Z]*)\s*$/.exec(String(raw));
  const unit = m ? sizeUnits[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(`${flag} must be a size in bytes such as 5000000, 10MB or 4MiB (got ${show(raw)})`);
  }
  return Math.round(Number(m[1]) * unit);
}

/** A regular expression (for --exclude). */
export function parseRegex(raw: unknown, flag: string): RegExp {
  try {
    return new RegExp(String(raw));
  } catch (e) {
    throw new UsageError(`${flag} is not a valid regular expression: ${(e as Error).message}`);
  }
}

/** A comma-separated list of non-empty names. */
export function parseList(raw: unknown, flag: string): string[] {
  const items = String(raw)
    .split(',')
    .map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s === '')) throw new UsageError(`${flag} must be a comma-separated list of names (got ${show(raw)})`);
  return items;
}
