/**
 * What every compressing command does around its pass: plan the outputs (CLI.md naming, never the
 * input, an existing file only with --force), load the pass, then for each input model in turn: load,
 * compress, save, measure, write the report, and say what happened. One model's failure does not stop
 * the others; the exit code is the worst outcome, and with several models a summary lists each result.
 *
 * Options arrive validated (each command parses its flags into a typed object before calling here).
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { isMainThread, Worker, workerData, parentPort } from 'node:worker_threads';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { ExitCode, UsageError } from '../../core/errors.js';
import type { Context } from '../../core/logger.js';
import type { Model } from '../../ir/model.js';
import type { LayerReport, Report } from '../../report/schema.js';
import type { CommonOptions, DataOptions } from '../options.js';
import type { CliState } from '../program.js';
import { planBatch } from '../batch/plan.js';
import { BatchRun, type ModelOutcome } from '../batch/run.js';
import { mirrored } from '../batch/tree.js';
import { describeError, paintErrorLines } from '../sink.js';
import type { MeasureOptions, RecordedReference } from '../../report/measure.js';
import { loadPass, type LoadedPass, type PassContext, type PassName } from './registry.js';

/** One input model and where its results go. */
export interface PlannedOutput {
  input: string;
  output: string;
  /** undefined with --no-report */
  reportPath?: string;
}

/** `model.onnx` -> `model.quantize.onnx` (any extension is replaced; a name without one gets `.onnx`). */
export function defaultOutputName(input: string, command: string): string {
  const base = basename(input);
  const ext = extname(base);
  const stem = ext ? base.slice(0, -ext.length) : base;
  return `${stem}.${command}.onnx`;
}

function sameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** The input model exists and is a file (a usage error otherwise, exit 2). */
export function checkInput(input: string): void {
  let info;
  try {
    info = statSync(input);
  } catch {
    throw new UsageError(`model file '${input}' does not exist`);
  }
  if (info.isDirectory()) throw new UsageError(`'${input}' is a folder, not an ONNX model file`, 'give the path of the .onnx file');
}

/**
 * Output and report paths for each input (CLI.md): beside the input by default; `-o` names the file for
 * one input, a folder for several, where the inputs' folders are mirrored below `root` (their common
 * root; docs/batch.md). Checked before any work: the input exists and is a file, the output is not the
 * input, an existing output needs --force (unless --dry-run, which writes nothing, or --skip-existing,
 * which decides for itself).
 */
export function planOutput(command: string, input: string, common: CommonOptions, several: boolean, root?: string): PlannedOutput {
  checkInput(input);
  const name = defaultOutputName(input, command);
  const under = (dir: string, file: string) => (root === undefined ? join(dir, file) : mirrored(dir, root, input, file));
  let output: string;
  if (common.output === undefined) output = join(dirname(input), name);
  else if (several) output = under(common.output, name);
  else output = existsSync(common.output) && statSync(common.output).isDirectory() ? join(common.output, name) : common.output;
  if (sameFile(output, input)) {
    throw new UsageError(`the output '${output}' is the input model itself; compress never overwrites its input`, 'choose another path with -o');
  }
  if (!common.dryRun && existsSync(output) && !common.force && !common.skipExisting) {
    throw new UsageError(`the output '${output}' already exists`, 'pass --force to overwrite it, --skip-existing to keep it when it is complete, or choose another path with -o');
  }
  let reportPath: string | undefined;
  if (common.report === false) reportPath = undefined;
  else if (common.report === undefined) reportPath = `${output}.report.json`;
  else reportPath = several ? under(common.report, `${basename(output)}.report.json`) : common.report;
  if (reportPath !== undefined && sameFile(reportPath, input)) throw new UsageError(`the report path '${reportPath}' is the input model itself`);
  return { input, output, reportPath };
}

/** What a compressing command hands to `runCompress`. */
export interface CompressRequest {
  command: PassName;
  inputs: string[];
  common: CommonOptions;
  /** The flags the user gave (checked for form), handed to the pass's own check and then to the pass. */
  options: Record<string, unknown>;
  /** --data and friends: opened for each model, the batches go to the pass in ctx.data. */
  data?: DataOptions;
  /** Called once the pass is loaded, before any model (distill loads its teacher here). */
  prepare?: (options: Record<string, unknown>) => Promise<void>;
  /** Tests and --dry-run builds may load a pass from elsewhere. */
  loadPass?: (name: PassName) => Promise<LoadedPass>;
  /**
   * Models processed at the same time (--jobs, default 1), each in its own worker thread running this
   * same command for that one model. Only with several models; a request with `prepare` or `loadPass`
   * (functions cannot cross into a worker) runs in turn.
   */
  jobs?: number;
}

/** One model's result (the batch's bookkeeping adds its status, note and time). */
type Outcome = ModelOutcome;

/** The pass's report keys that our measurements own; everything else the pass says is kept. */
const measuredKeys = new Set(['schema', 'command', 'original', 'compressed', 'sizeRatio', 'gates', 'passed', 'opCountsDiff']);

function ratioText(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}x smaller` : '';
}

/**
 * Runs a compressing command over its inputs (files, globs or folders, expanded; under --shard this
 * run's share); returns the worst exit code.
 */
export async function runCompress(state: CliState, req: CompressRequest): Promise<number> {
  const { term } = state;
  const batch = planBatch(req.command, req.inputs, req.common);
  const several = batch.several;
  const limits = req.common.gates ?? {};
  const dataGate = (['maxAccuracyDrop', 'maxPerplexityIncrease', 'minAgreement'] as const).find((k) => limits[k] !== undefined);
  if (dataGate !== undefined && req.data?.data === undefined && !req.common.dryRun) {
    const flag = `--${dataGate.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new UsageError(`${flag} needs measurements: give evaluation samples with --data (and --labels for accuracy)`);
  }
  const { createCliContext } = await import('../ui/logger.js');
  const ctx = createCliContext(term, req.common);
  if (batch.shard) {
    const { index, count } = batch.shard;
    ctx.logger.info(`${req.command}: shard ${index}/${count}: ${batch.selected.length} of ${batch.all.length} models`);
  }

  const failed = new Map<string, Outcome>();
  const fail = (input: string, e: unknown) => {
    if (!several) throw e;
    const d = describeError(e, req.common.verbose);
    term.err(paintErrorLines(d.lines, term.color));
    failed.set(input, { input, exitCode: d.exitCode, error: d.lines[0] });
  };
  // Missing inputs first (cheap, and no reason to load a pass), then the pass and its option check (a bad
  // combination of flags is reported before anything about outputs), then the outputs.
  for (const input of batch.selected) {
    try {
      checkInput(input);
    } catch (e) {
      fail(input, e);
    }
  }
  const pass = await (req.loadPass ?? loadPass)(req.command);
  const options = (pass.parseOptions ? pass.parseOptions(req.options) : req.options) as Record<string, unknown>;
  const plans: (PlannedOutput | Outcome)[] = [];
  for (const input of batch.selected) {
    const early = failed.get(input);
    if (early) {
      plans.push(early);
      continue;
    }
    try {
      plans.push(planOutput(req.command, input, req.common, several, batch.root));
    } catch (e) {
      fail(input, e);
      plans.push(failed.get(input)!);
    }
  }
  if (several) {
    // Every output and its external data file (<output>.data) must be one model's alone.
    const outs = new Map<string, string>();
    for (const p of plans) {
      if ('exitCode' in p) continue;
      const key = resolve(p.output);
      const other = outs.get(key);
      if (other !== undefined) throw new UsageError(`'${other}' and '${p.input}' would both be written to '${p.output}'`, 'compress them in separate runs with their own -o');
      outs.set(key, p.input);
    }
  }

  if (req.prepare) await req.prepare(options);

  const { packageVersion } = await import('../program.js');
  const run = new BatchRun({
    command: req.command,
    tool: `compress ${packageVersion()}`,
    keyParts: { options, data: req.data, gates: req.common.gates, backend: req.common.backend },
    dryRun: req.common.dryRun,
    skipExisting: req.common.skipExisting === true,
    summary: req.common.summary,
    shard: batch.shard,
    inputs: batch.all.length,
    total: plans.length,
    showProgress: several,
    ctx,
    interactive: term.interactive && !req.common.quiet,
  });
  if (batch.shard && plans.length === 0) ctx.logger.info(`${req.command}: shard ${batch.shard.index}/${batch.shard.count} has no models (${batch.all.length} over ${batch.shard.count} shards)`);

  const jobs = Math.min(req.jobs ?? (req.common as CommonOptions & { jobs?: number }).jobs ?? 1, plans.filter((p) => !('exitCode' in p)).length);
  const parallel = several && jobs > 1 && req.loadPass === undefined && req.prepare === undefined;
  // The wasm backend's threads: --threads, else COMPRESS_THREADS, else the cores shared among the jobs.
  const { setWasmThreads, wasmThreadCount } = await import('../../runtime/backend.js');
  if (req.common.threads !== undefined) setWasmThreads(req.common.threads);
  const threads = parallel && req.common.threads === undefined ? Math.max(1, Math.floor(wasmThreadCount() / jobs)) : wasmThreadCount();
  if (several && jobs > 1 && !parallel) ctx.logger.info(`--jobs ${jobs}: ${req.command} runs its models one after the other (it loads shared state once, which worker threads cannot share)`);
  if (parallel) ctx.logger.info(`${req.command}: ${plans.length} models, ${jobs} at a time (worker threads)`);

  // One model, start to end: kept when --skip-existing finds it complete, else compressed (in turn or in
  // a worker thread) with its manifest removed first and written last. With one model, its error is
  // thrown once the summary is written.
  let thrown: { error: unknown } | undefined;
  const runPlan = async (p: PlannedOutput | Outcome): Promise<Outcome> => {
    if ('exitCode' in p) return p;
    const t0 = performance.now();
    let o: Outcome;
    try {
      const decision = await run.decide(p);
      if (decision.skip) {
        o = decision.skip;
        term.err(`${req.command}: ${p.input} -> ${p.output}: skipped (${o.note})\n`);
      } else {
        if (decision.note) ctx.logger.info(`${req.command}: ${p.output}: ${decision.note}`);
        const planReq = decision.replace ? { ...req, common: { ...req.common, force: true } } : req;
        await run.before(p);
        o = parallel ? await compressInWorker(state, { ...planReq, common: { ...planReq.common, threads } }, p) : await compressOne(state, planReq, pass, options, p, ctx);
        o = { ...o, reportPath: p.reportPath, ...(decision.note ? { note: decision.note } : {}) };
        await run.after(p, o);
      }
    } catch (e) {
      const d = describeError(e, req.common.verbose);
      if (several) term.err(paintErrorLines(d.lines, term.color));
      else thrown = { error: e };
      o = { input: p.input, output: p.output, reportPath: p.reportPath, exitCode: d.exitCode, error: d.lines[0] };
    }
    o.seconds = (performance.now() - t0) / 1000;
    run.finished(o);
    return o;
  };

  const outcomes: Outcome[] = new Array<Outcome>(plans.length);
  const queue = plans.map((p, i) => ({ p, i }));
  const lane = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) outcomes[next.i] = await runPlan(next.p);
  };
  await Promise.all(Array.from({ length: parallel ? jobs : 1 }, lane));
  await run.writeSummary(outcomes);
  if (thrown) throw thrown.error;

  const worst = outcomes.reduce<number>((w, o) => Math.max(w, o.exitCode), ExitCode.ok);
  if (several) {
    const ok = outcomes.filter((o) => o.exitCode === ExitCode.ok && o.status !== 'skipped').length;
    const skipped = outcomes.filter((o) => o.status === 'skipped').length;
    const lines = [`summary: ${ok} of ${outcomes.length} models ${req.common.dryRun ? 'planned' : 'compressed'}${skipped > 0 ? `, ${skipped} skipped (complete)` : ''}`];
    for (const o of outcomes) {
      if (o.status === 'skipped') lines.push(`  skipped ${o.input} -> ${o.output}${o.exitCode !== ExitCode.ok ? ` (exit ${o.exitCode}, as recorded)` : ''}`);
      else lines.push(o.exitCode === ExitCode.ok ? `  ok      ${o.input} -> ${o.output}` : `  failed  ${o.input} (exit ${o.exitCode}): ${(o.error ?? '').replace(/^compress: error: /, '')}`);
    }
    term.err(`${lines.join('\n')}\n`);
  }
  if (req.common.json) {
    const { formatJson } = await import('../../report/format/json.js');
    const value = several
      ? {
          command: req.command,
          results: outcomes.map((o) => ({
            input: o.input,
            output: o.output ?? null,
            exitCode: o.exitCode,
            status: o.status ?? (req.common.dryRun ? 'planned' : o.exitCode === ExitCode.ok ? 'ok' : 'failed'),
            error: o.error ?? null,
            report: o.report ?? null,
          })),
        }
      : outcomes[0]?.report;
    if (value !== undefined) term.out(formatJson(value));
  }
  return worst;
}

/** Samples of the no-data check: enough to run both models once, not to measure anything. */
const smokeSamples = 4;

/**
 * Beyond this many bytes of float32 weights (what onnxruntime's CPU provider would hold for the original:
 * float16 weights count twice), the original is not loaded into onnxruntime as a reference: our
 * executor computes its outputs with the weights streamed one layer at a time, on fewer, shorter samples,
 * so that checking a multi-GB model costs no more memory than compressing it.
 */
export const largeReferenceBytes = 2 ** 30;

/** How a check compares the two models: who computes each side, on how much data, and what it says. */
export interface CheckPlan {
  reference: 'onnxruntime' | 'executor';
  compressedRunner: 'onnxruntime' | 'executor';
  samples: number;
  symbolicDim?: number;
  /** What is reduced, for the report and the summary line (undefined: the full check). */
  reduced?: string;
}

/** The check for a pair of models (see largeReferenceBytes; bfloat16 outputs run in our executor). */
export async function checkPlan(reference: import('../../report/index.js').ReportInput, compressed: import('../../report/index.js').ReportInput, large = largeReferenceBytes): Promise<CheckPlan> {
  const { onnxruntimeBytes, usesBfloat16 } = await import('../../report/measure.js');
  const notes: string[] = [];
  const plan: CheckPlan = { reference: 'onnxruntime', compressedRunner: 'onnxruntime', samples: smokeSamples };
  const bf16 = usesBfloat16(reference.model);
  if (bf16 || onnxruntimeBytes(reference) > large) {
    plan.reference = 'executor';
    plan.samples = 2;
    plan.symbolicDim = 8;
    notes.push(
      bf16
        ? "the original's outputs came from compress's executor (onnxruntime's CPU provider runs no bfloat16)"
        : `the original (${(onnxruntimeBytes(reference) / 2 ** 30).toFixed(1)} GiB as float32) was run in compress's executor with its weights streamed, on 2 samples of 8 per free axis, to keep memory bounded`,
    );
  }
  if (usesBfloat16(compressed.model)) {
    plan.compressedRunner = 'executor';
    notes.push("the bfloat16 output was run in compress's executor: onnxruntime's CPU provider runs no bfloat16 ops (it was not loaded in onnxruntime)");
  }
  if (notes.length > 0) plan.reduced = notes.join('; ');
  return plan;
}

/** The measuring options of the no-data check (random samples, as many and as long as the plan says). */
function smokeOptions(plan: CheckPlan, req: CompressRequest): MeasureOptions {
  return { data: `random:${plan.samples}`, task: 'auto', batchSize: plan.samples, seed: req.common.seed, latency: false, backend: req.common.backend, reference: plan.reference, compressedRunner: plan.compressedRunner, symbolicDim: plan.symbolicDim };
}

/** The context without warnings (the check's own warning says what matters; the reader's would repeat it). */
function quietContext(ctx: Context): Context {
  return { ...ctx, logger: { debug: (m) => ctx.logger.debug(m), info: (m) => ctx.logger.info(m), warn: (m) => ctx.logger.debug(m) } };
}

/**
 * Without --data: runs original and output on random samples (`checkPlan` says where and how many). The
 * output must load and run in onnxruntime (else `runtime.loaded` is false and the command fails); fidelity
 * on random inputs is reported with a warning. A model whose inputs random samples cannot satisfy (e.g.
 * free spatial sizes) is only loaded.
 */
async function smokeCheck(
  reference: import('../../report/index.js').ReportInput,
  compressed: import('../../report/index.js').ReportInput,
  req: CompressRequest,
  ctx: Context,
  recorded?: RecordedReference,
): Promise<{ runtime: NonNullable<Report['runtime']>; fidelity?: Report['fidelity']; warning: string; reduced?: string }> {
  const { measure } = await import('../../report/measure.js');
  const { openOrt, ortVersion } = await import('../../report/ort.js');
  const plan = await checkPlan(reference, compressed);
  const quiet = quietContext(ctx);
  const where = plan.compressedRunner === 'executor' ? "compress's executor" : 'onnxruntime-node';
  try {
    const m = await measure(reference, compressed, { ...smokeOptions(plan, req), recorded }, quiet);
    const runtime = m.runtime ?? { name: 'onnxruntime-node' as const, version: ortVersion(), loaded: true };
    return {
      runtime,
      fidelity: runtime.loaded ? m.fidelity : undefined,
      warning: `no --data: the output was run in ${where} on ${plan.samples} random samples only; the fidelity figures say nothing about accuracy (give --data to measure it)`,
      reduced: plan.reduced,
    };
  } catch (e) {
    // Random inputs may not fit the model; loading the output is still checked.
    const reason = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    if (plan.compressedRunner === 'executor') {
      return { runtime: { name: 'onnxruntime-node', version: ortVersion(), loaded: false, error: reason }, warning: `the output could not be run in compress's executor: ${reason}`, reduced: plan.reduced };
    }
    try {
      const o = await openOrt(compressed, 'compressed');
      await o.session.release();
      return { runtime: { name: 'onnxruntime-node', version: ortVersion(), loaded: true }, warning: `no --data: the output loads in onnxruntime-node, but random samples could not run (${reason}); give --data to check it on real inputs`, reduced: plan.reduced };
    } catch (le) {
      const error = le instanceof Error ? le.message.split('\n')[0]! : String(le);
      return { runtime: { name: 'onnxruntime-node', version: ortVersion(), loaded: false, error }, warning: `the output does not load in onnxruntime-node: ${error}` };
    }
  }
}

/** Opens --data (and --labels) for one model: the pass gets re-iterable batches of feeds. */
async function dataContext(req: CompressRequest, model: Model, ctx: Context): Promise<Partial<PassContext>> {
  const d = req.data;
  if (!d?.data) return {};
  const { openDataset, loadLabels } = await import('../../calibration/readers/index.js');
  const dataset = openDataset(d.data, model, { samples: d.samples, seed: req.common.seed, task: d.task, logger: ctx.logger });
  if (dataset.filled) ctx.logger.info(`${dataset.source}: token ids for '${dataset.tokens}'; the other inputs filled as for a first step: ${dataset.filled}`);
  if (dataset.synthetic) {
    ctx.logger.warn(`--data ${d.data} is synthetic: the result is shaped by random inputs and says nothing about accuracy; give real samples for a real calibration`);
  }
  const batchSize = d.batchSize;
  const data: Iterable<Record<string, import('../../runtime/value.js').RTensor>> = {
    *[Symbol.iterator]() {
      for (const b of dataset.batches(batchSize)) yield b.feeds;
    },
  };
  const out: Partial<PassContext> = { data, dataset };
  if (d.labels) {
    const labels = loadLabels(d.labels);
    if (labels.length < dataset.samples) {
      throw new UsageError(`--labels '${d.labels}' holds ${labels.length} labels for ${dataset.samples} samples of --data '${d.data}'`);
    }
    out.labels = labels;
  }
  ctx.logger.debug(`${dataset.source}: ${dataset.samples} samples in batches of ${dataset.batchSizeFor(batchSize)}`);
  return out;
}

async function compressOne(state: CliState, req: CompressRequest, pass: LoadedPass, options: Record<string, unknown>, plan: PlannedOutput, ctx: Context): Promise<Outcome> {
  const spill: { dir?: string } = {};
  try {
    return await compressOneIn(state, req, pass, options, plan, ctx, spill);
  } finally {
    if (spill.dir) await (await import('node:fs/promises')).rm(spill.dir, { recursive: true, force: true });
  }
}

/**
 * compressOne's work. `spill.dir` is set when a folder beside the output was made for the pass's results
 * to wait in until the output is written (prepare's `spillDir`); the caller removes it.
 */
async function compressOneIn(state: CliState, req: CompressRequest, pass: LoadedPass, options: Record<string, unknown>, plan: PlannedOutput, ctx: Context, spill: { dir?: string }): Promise<Outcome> {
  const { term } = state;
  const io = await import('./model-io.js');
  const { buildReport, evaluateGates, layerRows } = await import('../../report/index.js');
  const { formatJson } = await import('../../report/format/json.js');
  const { writeFile, mkdir } = await import('node:fs/promises');

  const clock = { start: performance.now(), mark: performance.now() };
  const timings: Record<string, number> = {};
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round(now - clock.mark) / 1000;
    clock.mark = now;
  };
  const original = await io.openModel(plan.input);
  lap('load');
  // The output's manifest names the input's hashes: a thread of its own reads them meanwhile.
  if (!req.common.dryRun) (await import('../batch/hash.js')).prefetchHashes(original.files.files.map((f) => f.path));
  const passCtx: PassContext = { ...ctx, ...(await dataContext(req, original.model, ctx)) };
  // A large original is checked against outputs our executor computes with its weights streamed. Without
  // --data that run needs only random samples, so it comes first: it reads every weight once, and a pass
  // that can (quantize) takes each weight from it as the run finishes with it, instead of reading the
  // model a second time.
  let recorded: RecordedReference | undefined;
  if (!req.common.dryRun && req.data?.data === undefined && pass.prepare) {
    const plan0 = await checkPlan(original, original);
    let prepared: ReturnType<NonNullable<LoadedPass['prepare']>>;
    if (plan0.reference === 'executor') {
      // Results wait on disk beside the output (its file system, which must hold the output anyway).
      const { mkdtemp } = await import('node:fs/promises');
      const folder = dirname(resolve(plan.output));
      await mkdir(folder, { recursive: true });
      spill.dir = await mkdtemp(join(folder, `.${basename(plan.output)}.spill-`));
      prepared = pass.prepare(original.model, options, spill.dir);
    }
    if (prepared) {
      const { recordReference } = await import('../../report/measure.js');
      const { noteZeros } = await import('../../report/size.js');
      recorded = await recordReference(original, smokeOptions(plan0, req), quietContext(ctx), (v) => {
        noteZeros(v.initializer!);
        prepared.onWeight(v);
      });
      passCtx.prepared = prepared;
      lap('reference');
    }
  }
  // The pass may edit the model it is given; measure the original first (after the reference run, which
  // counted the zeros of each weight it read, so that a model larger than memory is not read again here).
  const originalReport = buildReport(original, undefined, { command: req.command });
  ctx.logger.debug(`${req.command}: ${plan.input}: ${original.files.bytes} bytes, ${originalReport.original.params} params`);
  // optimum's merged decoder: the pass works on its first-step branch, and its rewrites are mirrored into the with-past one.
  const merged = await import('../../passes/shared/merged.js');
  const unfolded = merged.unfoldMergedDecoder(original.model);
  if (unfolded) ctx.logger.debug(`${plan.input}: a merged decoder (If on '${unfolded.cond.name}'): the pass runs on its first-step branch`);
  const result = await pass.run(original.model, options, passCtx);
  if (unfolded) {
    const refolded = merged.refoldMergedDecoder(unfolded, result.model);
    ctx.logger.info(`merged decoder: the pass ran on the first-step branch; ${refolded.mirrored} of its rewrites were repeated in the with-past branch`);
    for (const w of refolded.warnings) ctx.logger.warn(w);
    result.warnings = [...(result.warnings ?? []), ...refolded.warnings];
  }
  lap('compress');
  const compressedModel: Model = result.model;
  const { currentBackend, describeBackend } = await import('../../runtime/backend.js');
  const backend = currentBackend();
  const dry = req.common.dryRun;

  // The output is written to a staging folder beside its place, checked there, and renamed into place
  // only once onnxruntime has loaded and run it: a failure leaves nothing behind.
  const staged = dry ? undefined : await io.stageOutput(compressedModel, plan.output, req.common.force, original.files.files.length > 1);
  lap('save');
  // A dry run changed nothing: its bytes are the input's (serializing a multi-GB model to count them
  // held it whole in memory, and one past 2 GiB cannot be serialized at all).
  const files = staged ? { ...staged.files, path: plan.output } : { bytes: original.files.bytes, files: [] };
  // A dry run leaves the model as it was: the pass's plan says what the weights would weigh.
  if (dry && result.plan?.bytes) files.bytes = Math.max(0, original.files.bytes - result.plan.bytes.before + result.plan.bytes.after);
  const measured = buildReport({ model: compressedModel, files }, undefined, { command: req.command });
  const passReport = result.report ?? {};
  const warnings = [...(result.warnings ?? []), ...((passReport.warnings as string[] | undefined) ?? [])];
  const report: Report = {
    ...originalReport,
    ...Object.fromEntries(Object.entries(passReport).filter(([k]) => !measuredKeys.has(k))),
    schema: 1,
    command: req.command,
    original: originalReport.original,
    compressed: measured.original,
    sizeRatio: original.files.bytes > 0 ? files.bytes / original.files.bytes : 0,
    layers: result.layers ?? passReport.layers ?? layerRows(compressedModel),
    gates: passReport.gates ?? [],
    passed: passReport.passed ?? (passReport.gates ?? []).every((g) => g.pass),
  };
  // The executor the pass ran on, when it ran one (issue 3: shown in the report JSON and with --verbose).
  if (backend) report.backend = describeBackend(backend);
  // Measuring after compressing (issue 9): with --data, both models run in onnxruntime-node on the same
  // samples, so one command both compresses and gates; without --data, a smoke check in onnxruntime.
  // The reference is read again from its file: the pass edited the loaded model in place.
  let loaded = true;
  let reduced: string | undefined;
  // The reference is the input read again (lazily: its weights stay on disk until the check runs them).
  const reference = dry ? undefined : await io.openModel(plan.input);
  try {
    if (reference && req.data?.data !== undefined) {
      const { measure } = await import('../../report/measure.js');
      const check = await checkPlan(reference, { model: compressedModel, files });
      reduced = check.reduced;
      const m = await measure(reference, { model: compressedModel, files }, { ...req.data, seed: req.common.seed, backend: req.common.backend, reference: check.reference, compressedRunner: check.compressedRunner }, ctx);
      report.metrics = { ...m.metrics, measured: true };
      if (m.fidelity) report.fidelity = m.fidelity;
      if (m.runtime) report.runtime = m.runtime;
      loaded = m.runtime?.loaded !== false;
    } else if (reference) {
      // No --data: still prove the output loads and runs in onnxruntime-node (the deployment runtime), and
      // compare it with the original on a few random samples, saying loudly that this measures no accuracy.
      const check = await smokeCheck(reference, { model: compressedModel, files }, req, ctx, recorded);
      reduced = check.reduced;
      if (check.fidelity) report.fidelity = check.fidelity;
      report.runtime = check.runtime;
      loaded = check.runtime.loaded;
      warnings.push(check.warning);
      if (loaded) ctx.logger.warn(check.warning);
      if (!passReport.metrics) {
        report.metrics = { measured: false, note: `accuracy was not measured by ${req.command}: give --data (and --labels) to measure it after compressing, or run compress report <original> <compressed> --data <samples>` };
      }
    }
  } catch (e) {
    await staged?.staged.abort();
    throw e;
  }
  lap('check');
  if (reduced) {
    report.check = { reduced };
    warnings.push(`the check was reduced: ${reduced}`);
  }
  // Only a model onnxruntime loaded and ran goes into place; otherwise nothing is left behind.
  if (staged && loaded) {
    await staged.staged.commit();
    report.compressed = { ...report.compressed!, path: plan.output, files: staged.final.files };
  } else if (staged) {
    await staged.staged.abort();
  }
  // Wall seconds of each step (the report's, so that CI logs and benchmarks see where time goes).
  timings.total = Math.round(performance.now() - clock.start) / 1000;
  report.timings = timings;
  ctx.logger.debug(`${req.command}: timings ${Object.entries(timings).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}`);

  const limits = { ...(req.common.gates ?? {}) };
  if (dry) {
    // A dry run writes and runs nothing: only the size gates can be judged, on the expected bytes.
    delete limits.maxAccuracyDrop;
    delete limits.maxPerplexityIncrease;
    delete limits.minAgreement;
  }
  const gates = evaluateGates(report, limits);
  report.gates = [...report.gates, ...gates];
  report.passed = report.passed && loaded && gates.every((g) => g.pass);
  if (warnings.length > 0) report.warnings = warnings;
  if (passCtx.dataset) report.data = { source: req.data?.data, samples: passCtx.dataset.samples, synthetic: passCtx.dataset.synthetic };
  if (dry) {
    report.dryRun = true;
    if (result.plan) report.plan = pass.printablePlan ? pass.printablePlan(result.plan) : result.plan;
  }

  const o = report.original;
  const c = report.compressed!;
  const bpw = (x?: number) => (x ? x.toFixed(2) : '-');
  if (dry) {
    const touched = (report.layers ?? []).filter((l) => leftAloneReason(l) === undefined && (l.bits === undefined || l.bits < 32)).map((l) => l.name);
    const opset = result.plan?.opset?.to ?? compressedModel.opset('') ?? 0;
    const domains = [...compressedModel.opsetImports.filter((x) => x.domain !== '').map((x) => x.domain), ...(result.plan?.newDomains ?? [])];
    term.err(
      [
        `${req.command} (dry run, nothing written): ${plan.input} -> ${plan.output}`,
        `  nodes touched: ${touched.length}${touched.length > 0 ? ` (${touched.slice(0, 5).join(', ')}${touched.length > 5 ? ', ...' : ''})` : ''}`,
        `  expected bytes: ${c.bytes} (now ${o.bytes}; ${ratioText(o.bytes, c.bytes)})`,
        `  opset needed: ai.onnx ${opset}${domains.length > 0 ? ` + ${[...new Set(domains)].join(', ')}` : ''}`,
      ].join('\n') + '\n',
    );
  } else if (loaded) {
    if (plan.reportPath !== undefined) {
      await mkdir(dirname(resolve(plan.reportPath)), { recursive: true });
      await writeFile(plan.reportPath, formatJson(report));
    }
    const left = leftAloneText(report);
    term.err(
      `${req.command}: ${plan.input} -> ${plan.output}: ${o.bytes} -> ${c.bytes} bytes (${ratioText(o.bytes, c.bytes)}), ` +
        `${bpw(o.bitsPerWeight)} -> ${bpw(c.bitsPerWeight)} bits/weight${left ? `; ${left}` : ''}${plan.reportPath ? `; report: ${plan.reportPath}` : ''}\n`,
    );
    const measuredLine = measuredSummary(report);
    if (measuredLine) term.err(`${req.command}: ${measuredLine}\n`);
    if (reduced) term.err(`${req.command}: check reduced at this size: ${reduced}\n`);
  }
  if (!loaded) {
    const where = report.runtime?.error?.startsWith('compress') ? "compress's executor" : `onnxruntime-node ${report.runtime?.version ?? ''}`;
    term.err(`compress: error: ${where} cannot load or run the compressed model, so nothing was written to '${plan.output}': ${report.runtime?.error ?? ''}\n`);
  }
  for (const g of gates.filter((x) => !x.pass)) {
    term.err(`compress: gate failed: ${g.name}: ${g.value === null ? 'not measured' : g.value} (limit ${g.limit})\n`);
  }
  return { input: plan.input, output: plan.output, exitCode: report.passed ? ExitCode.ok : ExitCode.failure, report };
}

/** Why the pass left a layer of the report alone (every pass writes `skipped` with the reason). */
function leftAloneReason(l: LayerReport): string | undefined {
  return typeof l.skipped === 'string' ? l.skipped : undefined;
}

/**
 * What the pass left alone, for the summary line: "12 weights left as they were (10 excluded by
 * --exclude; 2 output head kept)" (the report's layers list each with its reason).
 */
export function leftAloneText(report: Report): string | undefined {
  const left = (report.layers ?? []).map(leftAloneReason).filter((r): r is string => r !== undefined);
  if (left.length === 0) return undefined;
  const reasons = new Map<string, number>();
  for (const note of left) {
    const why = note.replace(/'[^']*'/g, '').replace(/\s+/g, ' ').trim();
    reasons.set(why, (reasons.get(why) ?? 0) + 1);
  }
  const parts = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([why, n]) => `${n} ${why}`);
  return `${left.length} ${left.length === 1 ? 'weight left as it was' : 'weights left as they were'} (${parts.join('; ')}${reasons.size > 3 ? '; ...' : ''})`;
}

/** One line of what was measured after compressing ("accuracy 91.90% -> 91.80%, top-1 agreement 99.60%"). */
function measuredSummary(report: Report): string | undefined {
  if (!report.metrics?.measured) return undefined;
  const parts: string[] = [];
  const o = report.metrics.original ?? {};
  const c = report.metrics.compressed ?? {};
  if (o.accuracy !== undefined && c.accuracy !== undefined) parts.push(`accuracy ${(o.accuracy * 100).toFixed(2)}% -> ${(c.accuracy * 100).toFixed(2)}%`);
  if (o.perplexity !== undefined && c.perplexity !== undefined) parts.push(`perplexity ${o.perplexity.toFixed(3)} -> ${c.perplexity.toFixed(3)}`);
  if (report.fidelity?.top1Agreement !== undefined) parts.push(`top-1 agreement ${(report.fidelity.top1Agreement * 100).toFixed(2)}%`);
  const lat = report.runtime?.latencyMs;
  if (lat?.original && lat.compressed) parts.push(`onnxruntime p50 ${lat.original.p50.toFixed(3)} -> ${lat.compressed.p50.toFixed(3)} ms`);
  return parts.length > 0 ? `measured on ${String((report.metrics as Record<string, unknown>).samples ?? '?')} samples: ${parts.join(', ')}` : undefined;
}

/** What the parent hands a worker thread: one model's job, as plain data (a structured clone). */
interface WorkerJob {
  kind: 'compress-job';
  command: PassName;
  common: CommonOptions;
  /** The options as the command built them, before the pass's own check (the worker runs it again). */
  options: Record<string, unknown>;
  data?: DataOptions;
  plan: PlannedOutput;
}

/** What a worker posts back: text for stderr as it comes, then the outcome. */
type WorkerMessage = { type: 'err'; text: string } | { type: 'done'; outcome: Outcome };

/**
 * Runs one model's job in a worker thread (this very module is the worker's script): the same load,
 * compress, save, measure and report as in turn, in its own V8 isolate with its own TensorFlow.js and
 * onnxruntime instances. The worker's stderr lines are forwarded as they come; a crash of the worker
 * (an uncaught error, running out of memory) becomes that model's failure, exit 1, and the others go on.
 */
function compressInWorker(state: CliState, req: CompressRequest, plan: PlannedOutput): Promise<Outcome> {
  const job: WorkerJob = {
    kind: 'compress-job',
    command: req.command,
    // The worker compresses one model to the output planned here: -o is that file, the report that path.
    common: { ...req.common, output: plan.output, report: plan.reportPath ?? false },
    options: req.options,
    data: req.data,
    plan,
  };
  return new Promise((resolveOutcome) => {
    let settled = false;
    const settle = (o: Outcome) => {
      if (settled) return;
      settled = true;
      resolveOutcome(o);
    };
    const worker = new Worker(new URL(import.meta.url), { workerData: job });
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'err') state.term.err(m.text);
      else {
        settle(m.outcome);
        void worker.terminate();
      }
    });
    worker.on('error', (e) => {
      const d = describeError(e, req.common.verbose);
      state.term.err(paintErrorLines(d.lines, state.term.color));
      settle({ input: plan.input, exitCode: ExitCode.failure, error: d.lines[0] });
    });
    worker.on('exit', (code) => settle({ input: plan.input, exitCode: ExitCode.failure, error: `compress: error: the worker thread for '${plan.input}' ended (exit ${code}) before it reported` }));
  });
}

/** The worker side of compressInWorker. */
async function workerMain(job: WorkerJob): Promise<void> {
  const post = (m: WorkerMessage) => parentPort!.postMessage(m);
  const { Chalk } = await import('chalk');
  const term = { out: () => {}, err: (text: string) => post({ type: 'err', text }), color: new Chalk({ level: 0 }), interactive: false, stderr: process.stderr };
  const state: CliState = { term, exitCode: ExitCode.ok, verbose: job.common.verbose };
  const req: CompressRequest = { command: job.command, inputs: [job.plan.input], common: job.common, options: job.options, data: job.data };
  try {
    const { setWasmThreads } = await import('../../runtime/backend.js');
    setWasmThreads(job.common.threads);
    const { createCliContext } = await import('../ui/logger.js');
    const ctx = createCliContext(term, job.common);
    const pass = await loadPass(job.command);
    const options = (pass.parseOptions ? pass.parseOptions(job.options) : job.options) as Record<string, unknown>;
    const outcome = await compressOne(state, req, pass, options, job.plan, ctx);
    post({ type: 'done', outcome });
  } catch (e) {
    const d = describeError(e, job.common.verbose);
    term.err(paintErrorLines(d.lines, term.color));
    post({ type: 'done', outcome: { input: job.plan.input, exitCode: d.exitCode, error: d.lines[0] } });
  }
}

if (!isMainThread && (workerData as Partial<WorkerJob> | null)?.kind === 'compress-job') void workerMain(workerData as WorkerJob);
