/**
 * The measuring step of the report (CLI.md --data, --labels, --task): both models run in
 * onnxruntime-node on the same batches, one batch at a time (no output is kept past its batch), and
 * what comes out is
 * - fidelity of the compressed outputs against the original's (fidelity.ts), on the first output;
 * - task metrics of each model: accuracy with --labels, perplexity for --task lm (metrics.ts);
 * - latency p50 / p95 of each model in onnxruntime-node on the first batch (latency.ts).
 *
 * `--task auto` decides from the model and the data: a language model when the first input is int64
 * [n, seq] and the output is [n, seq, V] with V >= `lmMinVocab`; classification when labels are given;
 * otherwise fidelity only (with a single model: latency only), and the report says which.
 *
 * A compressed model onnxruntime cannot load is a result, not a crash: runtime.loaded is false with
 * onnxruntime's message, the original is still measured, and the command exits 1.
 */
import { DataType } from '../core/dtype.js';
import { ModelError, UsageError } from '../core/errors.js';
import type { Context } from '../core/logger.js';
import { loadLabels, openDataset, type Dataset } from '../calibration/readers/index.js';
import type { RTensor } from '../runtime/value.js';
import { accumulateFidelity, createFidelity, solveFidelity } from './fidelity.js';
import type { Measurements, ReportInput } from './index.js';
import { measureLatency, type LatencyOptions } from './latency.js';
import { accumulateAccuracy, accumulatePerplexity, createAccuracy, createPerplexity, solveAccuracy, solvePerplexity } from './metrics.js';
import { openOrt, ortFeeds, ortVersion, runOutput, type OrtModel, type OutputNumbers } from './ort.js';
import type { LatencyStats, RuntimeInfo, TaskMetrics } from './schema.js';

/** The smallest last axis `--task auto` takes for a vocabulary (below it, an output is per-position features). */
export const lmMinVocab = 32;

/** The task the metrics were computed for. */
export type MeasuredTask = 'classification' | 'lm' | 'regression' | 'fidelity';

/** What `measure` takes (the CLI's data options, and a few knobs for the API and tests). */
export interface MeasureOptions {
  data?: string;
  labels?: string;
  task: 'auto' | 'classification' | 'lm' | 'regression';
  samples?: number;
  batchSize: number;
  seed: number;
  /** Our executor's backend (unused here: the measurement runs in onnxruntime-node). */
  backend?: string;
  /** The output compared and scored (default: the first output of the original). */
  outputName?: string;
  /** Latency runs (default: 5 warm-up, then 20 runs or 2 s). */
  latency?: LatencyOptions | false;
  /**
   * What computes the original's outputs: 'onnxruntime' (default), or 'executor', our own executor
   * streaming the weights one layer at a time (see referenceFor): for an original too big to load whole,
   * or one onnxruntime's CPU provider cannot run (bfloat16). The compressed model always runs in
   * onnxruntime, unless `compressedRunner` is 'executor' (a bfloat16 output).
   */
  reference?: 'onnxruntime' | 'executor';
  compressedRunner?: 'onnxruntime' | 'executor';
  /** Size of the symbolic dims (other than batch) of random:<n> samples (default 32). */
  symbolicDim?: number;
  /** The original's outputs, recorded before (recordReference): replayed instead of running it again. */
  recorded?: RecordedReference;
}

/** The original's outputs on every batch of a data set, in order (recordReference). */
export interface RecordedReference {
  output: string;
  outputNames: string[];
  outputs: OutputNumbers[];
}

/**
 * Runs the original in our executor with its weights streamed (one layer's weights in memory at a time)
 * over the batches `options` describe, and keeps its outputs, so that it can be compared with the
 * compressed model later (measure's `recorded`). `onWeightDone` sees each weight as the run finishes with
 * it, still in memory: a pass can use that one read for its own work.
 */
export async function recordReference(original: ReportInput, options: MeasureOptions, ctx: Context, onWeightDone?: (value: import('../ir/value.js').Value) => void): Promise<RecordedReference> {
  if (options.data === undefined) throw new UsageError('recording a reference needs samples');
  const dataset: Dataset = openDataset(options.data, original.model, { samples: options.samples, seed: options.seed, symbolicDim: options.symbolicDim, logger: ctx.logger });
  const runner = await executorRunner(original, options.backend, ctx, onWeightDone);
  const output = chosenOutput(runner.outputNames, options);
  const outputs: OutputNumbers[] = [];
  try {
    for (const batch of dataset.batches(options.batchSize)) outputs.push(await runner.run(batch.feeds, output));
  } finally {
    await runner.release();
  }
  return { output, outputNames: [...runner.outputNames], outputs };
}

/** The output compared: --output, else the logits of a decoder that also returns its present key/values, else the first. */
function chosenOutput(names: readonly string[], options: MeasureOptions): string {
  return options.outputName ?? (names.includes('logits') ? 'logits' : names[0]!);
}

/** Replays recorded outputs batch by batch, in the order they were recorded. */
function replayRunner(r: RecordedReference): OutputRunner {
  let next = 0;
  return {
    outputNames: r.outputNames,
    run: async (_feeds, output) => {
      if (output !== r.output) throw new Error(`the recorded reference holds '${r.output}', not '${output}'`);
      const o = r.outputs[next++];
      if (!o) throw new Error('the recorded reference has fewer batches than the data');
      return o;
    },
    release: async () => undefined,
  };
}

/** Computes one model's outputs batch by batch: onnxruntime-node, or our executor. */
interface OutputRunner {
  readonly outputNames: readonly string[];
  run(feeds: Record<string, RTensor>, output: string): Promise<OutputNumbers>;
  /** onnxruntime's session, for latency (our executor is not what users deploy). */
  readonly ort?: OrtModel;
  release(): Promise<void>;
}

function ortRunner(m: OrtModel): OutputRunner {
  return {
    outputNames: m.session.outputNames,
    ort: m,
    run: (feeds, output) => runOutput(m, ortFeeds(m, feeds), output),
    release: () => m.session.release(),
  };
}

/**
 * Our executor with streamed weights (each read, used and released again: memory for one layer, not the
 * model), for references onnxruntime cannot afford or run.
 */
async function executorRunner(input: ReportInput, backend: string | undefined, ctx: Context, onWeightDone?: (value: import('../ir/value.js').Value) => void): Promise<OutputRunner> {
  const { Session } = await import('../runtime/session.js');
  const session = await Session.create(input.model, { backend: (backend ?? 'auto') as never, logger: ctx.logger, streamWeights: true, onWeightDone });
  return {
    outputNames: input.model.graph.outputs.map((v) => v.name),
    run: async (feeds, output) => {
      const out = session.runSync(feeds, { outputs: [output] });
      const t = out.get(output)!;
      const data = t.float32();
      const dims = t.dims.slice();
      t.dispose();
      return { data, dims };
    },
    release: async () => session.dispose(),
  };
}

/** Bytes a model's float tensors take once onnxruntime's CPU provider holds them in float32. */
export function onnxruntimeBytes(input: ReportInput): number {
  let bytes = 0;
  for (const g of input.model.graph.allGraphs()) {
    for (const v of g.initializers) {
      const t = v.initializer!;
      const each = t.dataType === DataType.FLOAT || t.dataType === DataType.FLOAT16 || t.dataType === DataType.BFLOAT16 ? 4 : 1;
      bytes += t.size * each;
    }
  }
  return bytes;
}

/** True when a model holds bfloat16 weights or values (onnxruntime's CPU provider runs no bfloat16 ops). */
export function usesBfloat16(model: import('../ir/model.js').Model): boolean {
  for (const g of model.graph.allGraphs()) {
    for (const v of g.initializers) if (v.initializer!.dataType === DataType.BFLOAT16) return true;
    for (const v of [...g.inputs, ...g.outputs]) if (v.elemType === DataType.BFLOAT16) return true;
  }
  return false;
}

/** Measurements plus what was measured on what. */
export interface MeasuredMetrics {
  original?: TaskMetrics;
  compressed?: TaskMetrics;
  task: MeasuredTask;
  samples: number;
  output: string;
  note?: string;
}

function lmShape(ids: RTensor | undefined, out: OutputNumbers): boolean {
  return ids !== undefined && ids.dataType === DataType.INT64 && ids.dims.length === 2 && out.dims.length === 3 && (out.dims[2] ?? 0) >= lmMinVocab;
}

/** Measures one model, or a compressed model against its original, on `options.data`. */
export async function measure(original: ReportInput, compressed: ReportInput | undefined, options: MeasureOptions, ctx: Context): Promise<Measurements & { metrics: MeasuredMetrics }> {
  if (options.data === undefined) throw new UsageError('measuring needs samples: give them with --data');
  const dataset: Dataset = openDataset(options.data, original.model, { samples: options.samples, seed: options.seed, symbolicDim: options.symbolicDim, task: options.task, logger: ctx.logger });
  if (dataset.synthetic) ctx.logger.warn(`--data ${options.data} is synthetic: fidelity and latency are measured on random inputs; accuracy cannot be`);
  const labels = options.labels !== undefined ? loadLabels(options.labels) : undefined;
  if (labels && labels.length < dataset.samples) {
    throw new UsageError(`--labels '${options.labels}' holds ${labels.length} labels for ${dataset.samples} samples of --data '${options.data}'`);
  }
  // Token ids go to the first input, or to the one the other inputs were filled around (tokens.ts).
  const firstInput = dataset.tokens ?? dataset.inputNames[0]!;

  let orig: OutputRunner;
  if (options.recorded) {
    orig = replayRunner(options.recorded);
  } else if (options.reference === 'executor') {
    orig = await executorRunner(original, options.backend, ctx);
  } else {
    try {
      orig = ortRunner(await openOrt(original, 'original'));
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new ModelError(`onnxruntime-node ${ortVersion()} cannot load the original model '${original.files.path ?? ''}': ${firstLine(e)}`, 'the original must run in onnxruntime to be a reference');
    }
  }
  const output = chosenOutput(orig.outputNames, options);
  if (!orig.outputNames.includes(output)) throw new UsageError(`the model has no output '${output}' (it has: ${orig.outputNames.join(', ')})`);

  const runtime: RuntimeInfo = { name: 'onnxruntime-node', version: ortVersion(), loaded: true };
  let comp: OutputRunner | undefined;
  if (compressed && options.compressedRunner === 'executor') {
    comp = await executorRunner(compressed, options.backend, ctx);
  } else if (compressed) {
    try {
      comp = ortRunner(await openOrt(compressed, 'compressed'));
    } catch (e) {
      if (e instanceof UsageError) throw e;
      runtime.loaded = false;
      runtime.error = firstLine(e);
      ctx.logger.warn(`onnxruntime-node ${runtime.version} cannot load the compressed model: ${runtime.error}`);
    }
    if (comp && !comp.outputNames.includes(output)) {
      throw new ModelError(`the compressed model has no output '${output}' (it has: ${comp.outputNames.join(', ')}); the two models must have the same outputs`);
    }
  }

  const fid = createFidelity();
  const acc = { original: createAccuracy(), compressed: createAccuracy() };
  const ppl = { original: createPerplexity(), compressed: createPerplexity() };
  let task: MeasuredTask | undefined;
  let note: string | undefined;
  let firstBatch: Record<string, RTensor> | undefined;
  let seen = 0;
  const bs = dataset.batchSizeFor(options.batchSize);
  const bar = ctx.progress.start('measuring in onnxruntime', dataset.samples);

  for (const batch of dataset.batches(options.batchSize)) {
    firstBatch ??= batch.feeds;
    const o = await orig.run(batch.feeds, output);
    const c = comp ? await comp.run(batch.feeds, output) : undefined;
    const ids = batch.feeds[firstInput];
    if (task === undefined) {
      task = decideTask(options.task, ids, o, labels !== undefined);
      if (task === 'classification' && !labels) note = 'classification without --labels: accuracy was not measured, only fidelity';
      if (task === 'regression') note = 'regression: no task metric is defined here; fidelity compares the outputs';
      if (task === 'fidelity') note = compressed ? 'no --labels and not a language model: fidelity only, accuracy was not measured' : 'no --labels and not a language model: latency only, accuracy was not measured';
      if (dataset.filled) note = [note, `token ids fed to '${firstInput}'; filled as for a first step: ${dataset.filled}`].filter(Boolean).join('; ');
      ctx.logger.debug(`measure: task ${task}, output '${output}' [${o.dims.join(', ')}], ${dataset.samples} samples in batches of ${bs}`);
    }
    if (c) {
      if (c.dims.join(',') !== o.dims.join(',')) {
        throw new ModelError(`output '${output}' has shape [${o.dims.join(', ')}] in the original but [${c.dims.join(', ')}] in the compressed model`);
      }
      accumulateFidelity(fid, o.data, c.data, o.dims.length > 0 ? o.dims[o.dims.length - 1]! : 1);
    }
    if (task === 'classification' && labels) {
      const classes = o.dims[o.dims.length - 1] ?? 1;
      if (o.data.length !== batch.size * classes) {
        throw new UsageError(`--labels needs one row of class scores per sample, but output '${output}' is [${o.dims.join(', ')}] for ${batch.size} samples`, 'use --task lm for token ids, or --task regression');
      }
      const lab = labels.subarray(batch.start, batch.start + batch.size);
      accumulateAccuracy(acc.original, o.data, classes, lab);
      if (c) accumulateAccuracy(acc.compressed, c.data, classes, lab);
    } else if (task === 'lm') {
      const [n, seq, vocab] = o.dims as [number, number, number];
      const idData = ids!.host() as BigInt64Array;
      accumulatePerplexity(ppl.original, o.data, idData, n, seq, vocab);
      if (c) accumulatePerplexity(ppl.compressed, c.data, idData, n, seq, vocab);
    }
    seen += batch.size;
    bar.tick(batch.size);
  }
  bar.done();
  if (seen === 0 || !firstBatch) throw new UsageError(`--data '${options.data}' holds no samples to measure on`);

  const metricsOf = (which: 'original' | 'compressed'): TaskMetrics => {
    const m: TaskMetrics = {};
    const a = solveAccuracy(acc[which]);
    const p = solvePerplexity(ppl[which]);
    if (a !== undefined) m.accuracy = a;
    if (p !== undefined) m.perplexity = p;
    return m;
  };
  const metrics: MeasuredMetrics = { original: metricsOf('original'), task: task ?? 'fidelity', samples: seen, output };
  if (comp) metrics.compressed = metricsOf('compressed');
  if (note) metrics.note = note;

  if (options.latency !== false) {
    const feeds = firstBatch;
    const latencyMs: { original?: LatencyStats; compressed?: LatencyStats } = {};
    const timed = async (m: OrtModel) => {
      const f = ortFeeds(m, feeds);
      const r = await measureLatency(() => m.session.run(f, [output]), options.latency || {});
      return { p50: r.p50, p95: r.p95 };
    };
    if (orig.ort) latencyMs.original = await timed(orig.ort);
    if (comp?.ort) latencyMs.compressed = await timed(comp.ort);
    runtime.latencyMs = latencyMs;
  }
  await orig.release();
  if (comp) await comp.release();

  const result: Measurements & { metrics: MeasuredMetrics } = { metrics, runtime };
  if (comp) result.fidelity = solveFidelity(fid);
  return result;
}

/** The task of `--task` on the first batch (auto: lm shape, labels, or fidelity only). */
function decideTask(asked: MeasureOptions['task'], ids: RTensor | undefined, out: OutputNumbers, hasLabels: boolean): MeasuredTask {
  if (asked === 'lm') {
    if (!ids || ids.dataType !== DataType.INT64 || ids.dims.length !== 2 || out.dims.length !== 3) {
      throw new UsageError(`--task lm needs int64 token ids [n, seq] in and logits [n, seq, vocab] out; this model takes [${ids?.dims.join(', ') ?? '?'}] and gives [${out.dims.join(', ')}]`);
    }
    return 'lm';
  }
  if (asked === 'classification' || asked === 'regression') return asked;
  if (lmShape(ids, out)) return 'lm';
  return hasLabels ? 'classification' : 'fidelity';
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0]!.trim();
}
