/**
 * The programmatic API (CLI.md, "The programmatic API"): what `import ... from 'compress'` gives a Node
 * script.
 *
 *   import { loadModel, saveModel, Session, report } from 'compress';
 *   const model = await loadModel('model.onnx');
 *   const session = await Session.create(model, { backend: 'auto' });
 *   const outputs = await session.run({ input: { type: 'float32', data, dims: [1, 64] } });
 *   await saveModel(model, 'copy.onnx');
 *
 * Importing this module is cheap: protobufjs, TensorFlow.js and the passes load on the first call that
 * needs them (a script that only reads a report never pays for tfjs). Tensors cross the API in
 * onnxruntime's shape, `{ type, data, dims }`.
 */
import { resolve } from 'node:path';
import type { Model } from './ir/model.js';
import type { LoadOptions, SaveOptions } from './onnx/index.js';
import type { ReportInput, ReportOptions } from './report/index.js';
import type { Report } from './report/schema.js';
import type { Session as RuntimeSession, SessionOptions } from './runtime/session.js';

export { CompressError, UsageError, ModelError, NumericsError, GateError, ExitCode } from './core/errors.js';
export { DataType } from './core/dtype.js';
/** Types an API caller meets. */
export type { Context, Logger, Progress } from './core/logger.js';
export type { Model } from './ir/model.js';
export type { Report, ModelSummary, Gate, LayerReport, Fidelity } from './report/schema.js';
export type { GateLimits, ReportOptions } from './report/index.js';
export type { OrtLikeTensor } from './runtime/feeds.js';
export type { SessionOptions } from './runtime/session.js';

/**
 * Loads an ONNX model file (or its bytes) into the IR, with its external data.
 *
 * @throws UsageError when the file does not exist or is a folder; ModelError when it is not a valid model
 */
export async function loadModel(source: string | Uint8Array, options?: LoadOptions): Promise<Model> {
  const onnx = await import('./onnx/index.js');
  return onnx.loadModel(source, options);
}

/**
 * Saves a model atomically (never over its own input file; an existing file only with `{ force: true }`).
 */
export async function saveModel(model: Model, path: string, options?: SaveOptions): Promise<void> {
  const onnx = await import('./onnx/index.js');
  return onnx.saveModel(model, path, options);
}

/** Our executor for a model (TensorFlow.js kernels); see runtime/session.ts for `run` and `runSync`. */
export type Session = RuntimeSession;

/** `Session.create(model, { backend })`: loads the runtime on first use. */
export const Session = {
  async create(model: Model, options?: SessionOptions): Promise<RuntimeSession> {
    const runtime = await import('./runtime/session.js');
    return runtime.Session.create(model, options);
  },
};

/**
 * A model as the report measures it. A path is measured on disk (the file plus its external data); a
 * Model object as it would be saved now (its serialized size), since it may differ from its file.
 */
async function reportInput(m: Model | string): Promise<ReportInput> {
  const onnx = await import('./onnx/index.js');
  const { bytesOnDisk } = await import('./report/size.js');
  if (typeof m === 'string') {
    const model = await onnx.loadModel(m);
    const { encodingOf } = await import('./onnx/encoding.js');
    const external = encodingOf<import('./onnx/encoding.js').ModelEncoding>(model.encoding, 'onnx.model')?.externalFiles ?? [];
    return { model, files: { ...bytesOnDisk(resolve(m), external), path: m } };
  }
  return { model: m, files: { path: m.path, bytes: onnx.serializeModel(m).byteLength, files: [] } };
}

/**
 * The report of CLI.md for one model, or for an original and its compressed version: bytes, parameters,
 * bits per weight, sparsity, op histogram, opsets, largest tensors, size ratio, and the gates of
 * `options.gates`. Accuracy and fidelity are only present when `options.measured` carries them.
 */
export async function report(original: Model | string, compressed?: Model | string, options: ReportOptions = {}): Promise<Report> {
  const { buildReport } = await import('./report/index.js');
  const a = await reportInput(original);
  const b = compressed === undefined ? undefined : await reportInput(compressed);
  return buildReport(a, b, options);
}

/** Options of `quantize()`: the flags of `compress quantize`, camelCased, plus the calibration data. */
export interface QuantizeApiOptions {
  bits?: 8 | 4;
  weightOnly?: boolean;
  dynamic?: boolean;
  fp16?: boolean;
  granularity?: 'tensor' | 'channel' | 'group';
  groupSize?: number;
  symmetric?: boolean;
  asymmetric?: boolean;
  format?: 'qdq' | 'matmulnbits' | 'qoperator';
  calibration?: 'minmax' | 'percentile' | 'entropy' | 'mse';
  percentile?: number;
  ops?: string[] | string;
  exclude?: string;
  keepSensitive?: boolean;
  keepIoTypes?: boolean;
  seed?: number;
  samples?: number;
  batchSize?: number;
  /** Calibration data: a --data spec (.npy, .npz, test-layout folder, random:<n>) or batches of feeds. */
  data?: string | Iterable<Record<string, import('./runtime/value.js').RTensor>>;
}

/**
 * `compress quantize` as a function: quantizes `model` in place and returns it with the report of CLI.md
 * (sizes are the models' serialized bytes, before and after). `context` may carry a logger and progress.
 *
 * @throws UsageError for bad or conflicting options; ModelError for a model that is already quantized
 */
export async function quantize(
  model: Model,
  options: QuantizeApiOptions = {},
  context: Partial<import('./core/logger.js').Context> = {},
): Promise<{ model: Model; report: Report }> {
  const q = await import('./passes/quantize/index.js');
  const { silentLogger, noProgress } = await import('./core/logger.js');
  const { reportFrom, summarizeModel } = await import('./report/index.js');
  const onnx = await import('./onnx/index.js');
  const { data, ...flags } = options;
  const parsed = q.parseQuantizeOptions(flags as Record<string, unknown>);
  const logger = context.logger ?? silentLogger;
  let feeds: Iterable<Record<string, import('./runtime/value.js').RTensor>> | undefined;
  if (typeof data === 'string') {
    const { openDataset } = await import('./calibration/readers/index.js');
    const ds = openDataset(data, model, { samples: options.samples, seed: options.seed, logger });
    const batchSize = options.batchSize ?? 32;
    feeds = {
      *[Symbol.iterator]() {
        for (const b of ds.batches(batchSize)) yield b.feeds;
      },
    };
  } else {
    feeds = data;
  }
  const original = summarizeModel({ model, files: { path: model.path, bytes: onnx.serializeModel(model).byteLength, files: [] } });
  const r = await q.quantize(model, parsed, { logger, progress: context.progress ?? noProgress, data: feeds });
  const after = { model: r.model, files: { bytes: onnx.serializeModel(r.model).byteLength, files: [] } };
  const report = reportFrom(original, after, { command: 'quantize', layers: r.layers, warnings: r.warnings });
  return { model: r.model, report };
}
