/**
 * `compress report`: what a model weighs and is made of, or how a compressed model compares with its
 * original, with gates for CI (exit 1 when one fails).
 *
 * Without --data the report holds sizes and structure, measured exactly, and says that accuracy was not
 * measured. With --data, the measuring step (src/report/measure.ts: fidelity, task metrics, onnxruntime
 * latency) is loaded when this build has it; a build without it answers "not available" rather than
 * printing numbers nobody measured.
 */
import { existsSync, realpathSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { Command } from 'commander';
import { ExitCode, UsageError } from '../../core/errors.js';
import type { Context } from '../../core/logger.js';
import type { GateLimits, Measurements, ReportInput } from '../../report/index.js';
import { CliLineError } from '../errors.js';
import { isMissingModule } from './registry.js';
import { addDataOptions, addGateOptions, backendChoices, backendHelp, opt, parseChoice, parseDataOptions, parseGateLimits, parseInteger, type DataOptions } from '../options.js';
import type { CliState } from '../program.js';

/** --format values of compress report. */
export const reportFormatChoices = ['table', 'json', 'md', 'html'] as const;
/** One of `reportFormatChoices`. */
export type ReportFormatChoice = (typeof reportFormatChoices)[number];

/** The report flags, validated. */
export interface ReportCliOptions extends DataOptions {
  format: ReportFormatChoice;
  output?: string;
  gates: GateLimits;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  backend: (typeof backendChoices)[number];
  seed: number;
}

/** The measuring step's module (issue 9): fidelity, task metrics and latency from data. */
export interface MeasureModule {
  measure(
    original: ReportInput,
    compressed: ReportInput | undefined,
    options: DataOptions & { seed: number; backend: string; reference?: 'onnxruntime' | 'executor'; compressedRunner?: 'onnxruntime' | 'executor' },
    ctx: Context,
  ): Promise<Measurements>;
}

/** Validates the report flags for one or two models. */
export function parseReportFlags(raw: Record<string, unknown>, models: number, given: (key: string) => boolean): ReportCliOptions {
  const data = parseDataOptions(raw, 'report');
  if (raw.quiet === true && raw.verbose === true) throw new UsageError('--quiet and --verbose cannot be used together');
  const output = raw.output === undefined ? undefined : String(raw.output);
  let format = parseChoice(raw.format ?? 'table', '--format', reportFormatChoices);
  if (!given('format') && output !== undefined) {
    const byExt: Record<string, ReportFormatChoice> = { '.json': 'json', '.md': 'md', '.markdown': 'md', '.html': 'html', '.htm': 'html' };
    format = byExt[extname(output).toLowerCase()] ?? format;
  }
  const gates: GateLimits = parseGateLimits(raw);
  const pairGates = (['minRatio', 'maxAccuracyDrop', 'maxPerplexityIncrease', 'minAgreement'] as const).filter((k) => gates[k] !== undefined);
  const flag = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  if (models < 2 && pairGates.length > 0) {
    throw new UsageError(`${flag(pairGates[0]!)} compares two models; give the original and the compressed model`);
  }
  const dataGates = (['maxAccuracyDrop', 'maxPerplexityIncrease', 'minAgreement'] as const).filter((k) => gates[k] !== undefined);
  if (dataGates.length > 0 && data.data === undefined) {
    throw new UsageError(`${flag(dataGates[0]!)} needs measurements: give evaluation samples with --data`);
  }
  return {
    ...data,
    format,
    output,
    gates,
    json: raw.json === true,
    quiet: raw.quiet === true,
    verbose: raw.verbose === true,
    backend: parseChoice(raw.backend ?? 'auto', '--backend', backendChoices),
    seed: parseInteger(raw.seed ?? 0, '--seed', 0, 2 ** 32 - 1),
  };
}

/** Loads the measuring step, or says this build cannot measure. */
async function loadMeasure(): Promise<MeasureModule> {
  const url = new URL('../../report/measure.js', import.meta.url);
  try {
    const mod = (await import(url.href)) as Partial<MeasureModule>;
    if (typeof mod.measure === 'function') return mod as MeasureModule;
  } catch (e) {
    if (!isMissingModule(e as NodeJS.ErrnoException, url)) throw e;
  }
  throw new CliLineError(
    'compress report: measuring with --data (accuracy, fidelity, latency) is not available in this build',
    ExitCode.failure,
    'run without --data for sizes and structure',
  );
}

function isSameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    return existsSync(a) && existsSync(b) && realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** Declares `compress report`. */
export function registerReport(program: Command, state: CliState): void {
  const cmd = program
    .command('report')
    .summary('sizes and structure of a model, or how a compressed model compares with its original')
    .description('Reports bytes, parameters, bits per weight, sparsity, op types, opsets and the largest tensors; with two models, what changed. Gates make it fail (exit 1) in CI.')
    .argument('[original]', 'the (original) ONNX model (required, except with --merge)')
    .argument('[compressed]', 'the compressed model to compare with it (default: none)');
  addDataOptions(cmd, 'evaluation samples for fidelity, accuracy and latency');
  cmd
    .addOption(opt('--format <f>', 'table | json | md | html (default: table, or from the -o file extension)', 'table'))
    .addOption(opt('-o, --output <file>', 'write the report to this file instead of stdout (default: stdout)'))
    .addOption(opt('--seed <n>', 'seed of every random choice (random:<n> data)', 0))
    .addOption(opt('--backend <name>', backendHelp, 'auto'))
    .addOption(opt('--json', 'print the report as JSON on stdout (human text goes to stderr)', false))
    .addOption(opt('--quiet', 'no progress bars or informational lines', false))
    .addOption(opt('--verbose', 'debug detail, and stack traces for internal errors', false))
    .addOption(opt('--merge <summary...>', 'join the --summary files of a batch\'s shards into one (rows sorted by input, totals summed, the worst exit code); takes no model, writes JSON to -o or stdout (default: off)'));
  addGateOptions(cmd);
  cmd.action(async (original: string | undefined, compressed: string | undefined, raw: Record<string, unknown>) => {
    const given = (k: string) => cmd.getOptionValueSource(k) === 'cli';
    if (raw.merge !== undefined) {
      if (original !== undefined) throw new UsageError(`compress report --merge takes summary files only, not the model '${original}'`, 'compress report --merge summary-*.json [-o all.json]');
      const stray = cmd.options.map((o) => o.attributeName()).find((k) => given(k) && !mergeFlags.has(k));
      if (stray !== undefined) throw new UsageError(`--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} does not apply to --merge`, 'compress report --merge summary-*.json [-o all.json]');
      state.exitCode = await runMerge(state, raw.merge as string[], { output: raw.output as string | undefined, json: raw.json === true, quiet: raw.quiet === true, verbose: raw.verbose === true });
      return;
    }
    if (original === undefined) throw new UsageError("missing required argument 'original'", 'give the model to report on, or --merge <summary.json>... to join batch summaries');
    const options = parseReportFlags(raw, compressed === undefined ? 1 : 2, given);
    if (options.output !== undefined) {
      for (const m of [original, compressed]) {
        if (m !== undefined && isSameFile(options.output, m)) throw new UsageError(`-o '${options.output}' is one of the models; the report never overwrites a model`);
      }
    }
    state.exitCode = await runReport(state, original, compressed, options);
  });
}

/** The flags `report --merge` takes. */
const mergeFlags = new Set(['merge', 'output', 'json', 'quiet', 'verbose']);

/**
 * `compress report --merge`: reads the summaries (quoted globs are expanded), joins them
 * (batch/summary.ts), writes the result to -o (atomically) or stdout, says on stderr what was merged, and
 * returns the merged exit code: the worst of the shards', at least 1 when a shard is missing.
 */
export async function runMerge(state: CliState, files: string[], options: { output?: string; json: boolean; quiet: boolean; verbose: boolean }): Promise<number> {
  const { term } = state;
  const { expandGlob } = await import('../batch/inputs.js');
  const { mergeSummaries, readSummary, writeJsonAtomic } = await import('../batch/summary.js');
  const { packageVersion } = await import('../program.js');
  const paths = files.flatMap((f) => {
    if (!/[*?]/.test(f)) return [f];
    try {
      return expandGlob(f);
    } catch {
      throw new UsageError(`no summary file matches '${f}'`, 'give the files written by --summary (did every shard write one?)');
    }
  });
  if (options.output !== undefined && paths.some((p) => isSameFile(p, options.output!))) {
    throw new UsageError(`-o '${options.output}' is one of the summaries being merged`, 'write the merged summary to another file');
  }
  const merged = mergeSummaries(
    paths.map((path) => ({ path, summary: readSummary(path) })),
    `compress ${packageVersion()}`,
  );
  const text = `${JSON.stringify(merged, null, 2)}\n`;
  if (options.output !== undefined) {
    await writeJsonAtomic(options.output, merged);
    if (options.json) term.out(text);
  } else {
    term.out(text);
  }
  const t = merged.totals;
  if (!options.quiet) {
    term.err(
      `merged ${paths.length} summar${paths.length === 1 ? 'y' : 'ies'} of ${merged.command}: ${t.models} models, ${t.ok} ok, ${t.failed} failed, ${t.skipped} skipped` +
        `; ${t.bytesBefore} -> ${t.bytesAfter} bytes; exit ${merged.exitCode}${options.output !== undefined ? `; written to ${options.output}` : ''}\n`,
    );
  }
  if (merged.shards && merged.shards.missing.length > 0) {
    term.err(`compress: error: shard${merged.shards.missing.length > 1 ? 's' : ''} ${merged.shards.missing.join(', ')} of ${merged.shards.count} missing: their models' outcomes are unknown\n`);
  }
  return merged.exitCode;
}

/** Loads the model(s), builds the report, prints or writes it, and returns the exit code. */
export async function runReport(state: CliState, originalPath: string, compressedPath: string | undefined, options: ReportCliOptions): Promise<number> {
  const { term } = state;
  const measureModule = options.data !== undefined ? await loadMeasure() : undefined;
  const { openModel } = await import('./model-io.js');
  const { buildReport, layerRows } = await import('../../report/index.js');
  const { formatReport } = await import('../../report/format/index.js');
  const { createCliContext } = await import('../ui/logger.js');
  const ctx = createCliContext(term, options);

  const original = await openModel(originalPath);
  const compressed = compressedPath === undefined ? undefined : await openModel(compressedPath);
  // Who computes each side: onnxruntime, or our executor for what its CPU provider cannot run (bfloat16)
  // or a reference too big to load whole (the same choice as the compressing commands' check).
  const { checkPlan } = await import('./pipeline.js');
  const check = measureModule ? await checkPlan(original, compressed ?? original) : undefined;
  const measured = measureModule
    ? await measureModule.measure(original, compressed, { ...options, seed: options.seed, backend: options.backend, reference: check?.reference, compressedRunner: check?.compressedRunner }, ctx)
    : undefined;
  // With one model, the per-weight rows still feed the size-by-layer tables and plots.
  const layers = compressed === undefined ? layerRows(original.model) : undefined;
  const report = buildReport(original, compressed, { command: 'report', gates: options.gates, measured, layers });
  const unloadable = measured?.runtime?.loaded === false;
  if (unloadable) report.passed = false;
  if (check?.reduced) report.check = { reduced: check.reduced };

  const text = formatReport(report, options.json ? 'json' : options.format);
  if (options.output !== undefined) {
    const { writeFile } = await import('node:fs/promises');
    const fileText = options.json ? formatReport(report, options.format) : text;
    await writeFile(options.output, fileText);
    ctx.logger.info(`report written to ${options.output}`);
    if (options.json) term.out(text);
  } else {
    term.out(text);
  }
  if (!report.passed) {
    if (unloadable) term.err(`compress: error: onnxruntime-node ${report.runtime?.version ?? ''} cannot load the compressed model '${compressedPath ?? ''}': ${report.runtime?.error ?? ''}\n`);
    for (const g of report.gates.filter((x) => !x.pass)) {
      term.err(`compress: gate failed: ${g.name}: ${g.value === null ? 'not measured' : g.value} (limit ${g.limit})\n`);
    }
    return ExitCode.failure;
  }
  return ExitCode.ok;
}
