/**
 * The report: what a model (or an original / compressed pair) weighs, what it is made of, and whether
 * the gates the user set hold. Sizes and structure come from the IR and the files on disk and are always
 * exact. Accuracy, fidelity and latency need data and a forward pass; they arrive through `measured`
 * (filled by the measuring step when --data is given) and are never invented: without them the report
 * says plainly that accuracy was not measured, and a gate that needs them fails with a null value.
 */
import type { Model } from '../ir/model.js';
import type { Fidelity, Gate, LayerReport, ModelSummary, Report, RuntimeInfo, TaskMetrics } from './schema.js';
import { weightStats, type FileBytes, type WeightEntry } from './size.js';
import { opCountsDiff, structureOf } from './structure.js';

/** Re-exported building blocks of the report. */
export type { FileBytes } from './size.js';
export { bytesOnDisk, weightStats } from './size.js';
export { structureOf, opCountsDiff, opKey } from './structure.js';

/** A model and where its bytes are. */
export interface ReportInput {
  model: Model;
  files: FileBytes;
}

/** Limits of the report gates (CLI.md: --max-size, --min-ratio, ...). */
export interface GateLimits {
  /** Bytes of the compressed model (or of the only model). */
  maxSize?: number;
  /** original bytes / compressed bytes must be at least this. */
  minRatio?: number;
  /** Accuracy drop in percentage points. */
  maxAccuracyDrop?: number;
  /** Relative perplexity increase (0.05 = +5%). */
  maxPerplexityIncrease?: number;
  /** Share of samples whose top-1 prediction agrees. */
  minAgreement?: number;
}

/** Measurements that need data and a forward pass (issue 9): plugged in when taken. */
export interface Measurements {
  metrics?: { original?: TaskMetrics; compressed?: TaskMetrics };
  fidelity?: Fidelity;
  runtime?: RuntimeInfo;
  backend?: string;
}

/** What buildReport takes besides the models. */
export interface ReportOptions {
  /** The command the report belongs to (default 'report'). */
  command?: string;
  gates?: GateLimits;
  measured?: Measurements;
  /** Layer entries a pass produced (kept as they are). */
  layers?: LayerReport[];
  warnings?: string[];
}

/** Summary of one model: the schema's keys plus bytes by data type, opsets, the largest tensors. */
export function summarizeModel(input: ReportInput): ModelSummary {
  const w = weightStats(input.model);
  const s = structureOf(input.model);
  return {
    path: input.files.path,
    bytes: input.files.bytes,
    params: w.params,
    opCounts: s.opCounts,
    bitsPerWeight: w.bitsPerWeight,
    sparsity: w.sparsity,
    bytesByDataType: w.bytesByDataType,
    paramsByDataType: w.paramsByDataType,
    nodes: s.nodes,
    graphs: s.graphs,
    irVersion: s.irVersion,
    opsets: s.opsets,
    inputs: s.inputs,
    outputs: s.outputs,
    largestTensors: s.largestTensors,
    files: input.files.files,
  };
}

/** Per-weight rows of a model: stored bits per parameter (its quantization parameters included), sparsity. */
export function layerRows(model: Model): LayerReport[] {
  const w = weightStats(model);
  const qparamBits = new Map<string, number>();
  const byName = new Map<string, WeightEntry>(w.entries.map((e) => [e.name, e]));
  // Charge each quantization parameter to the weights its consuming node dequantizes.
  for (const g of model.graph.allGraphs()) {
    for (const n of g.nodes) {
      const ins = n.inputs.map((v) => (v ? byName.get(v.name) : undefined));
      const extra = ins.reduce((s, e) => s + (e?.role === 'qparam' ? e.bits : 0), 0);
      if (extra === 0) continue;
      for (const e of ins) if (e && e.role === 'quantized') qparamBits.set(e.name, (qparamBits.get(e.name) ?? 0) + extra);
    }
  }
  return w.entries
    .filter((e) => (e.role === 'weight' || e.role === 'quantized') && e.params > 0)
    .map((e) => ({
      name: e.name,
      op: e.op ?? '',
      bits: (e.bits + (qparamBits.get(e.name) ?? 0)) / e.params,
      sparsity: e.zeros / e.params,
      params: e.params,
    }));
}

/** The gates of `limits` evaluated on a report (a gate without its measurement fails with value null). */
export function evaluateGates(report: Report, limits: GateLimits = {}): Gate[] {
  const gates: Gate[] = [];
  const target = report.compressed ?? report.original;
  if (limits.maxSize !== undefined) {
    gates.push({ name: 'max-size', limit: limits.maxSize, value: target.bytes, pass: target.bytes <= limits.maxSize });
  }
  if (limits.minRatio !== undefined) {
    const value = report.compressed && report.compressed.bytes > 0 ? report.original.bytes / report.compressed.bytes : null;
    gates.push({ name: 'min-ratio', limit: limits.minRatio, value, pass: value !== null && value >= limits.minRatio });
  }
  if (limits.maxAccuracyDrop !== undefined) {
    const a = report.metrics?.original?.accuracy;
    const b = report.metrics?.compressed?.accuracy;
    const value = a !== undefined && b !== undefined ? (a - b) * 100 : null;
    gates.push({ name: 'max-accuracy-drop', limit: limits.maxAccuracyDrop, value, pass: value !== null && value <= limits.maxAccuracyDrop });
  }
  if (limits.maxPerplexityIncrease !== undefined) {
    const a = report.metrics?.original?.perplexity;
    const b = report.metrics?.compressed?.perplexity;
    const value = a !== undefined && b !== undefined && a > 0 ? b / a - 1 : null;
    gates.push({ name: 'max-perplexity-increase', limit: limits.maxPerplexityIncrease, value, pass: value !== null && value <= limits.maxPerplexityIncrease });
  }
  if (limits.minAgreement !== undefined) {
    const value = report.fidelity?.top1Agreement ?? null;
    gates.push({ name: 'min-agreement', limit: limits.minAgreement, value, pass: value !== null && value >= limits.minAgreement });
  }
  return gates;
}

/** The note a report carries when no data was given. */
export const notMeasuredNote = 'accuracy was not measured: no --data was given, so this report covers sizes and structure only';

/**
 * Builds the report JSON of CLI.md for one model or a pair. Sizes, parameters and structure are
 * measured here; task metrics, fidelity and latency only come from `options.measured`.
 */
export function buildReport(original: ReportInput, compressed?: ReportInput, options: ReportOptions = {}): Report {
  return reportFrom(summarizeModel(original), compressed, options);
}

/**
 * buildReport from the original's summary taken earlier: a pass that edits the model in place leaves
 * nothing else to measure the original from.
 */
export function reportFrom(o: ModelSummary, compressed?: ReportInput, options: ReportOptions = {}): Report {
  const report: Report = { schema: 1, command: options.command ?? 'report', original: o, gates: [], passed: true };
  if (compressed) {
    const c = summarizeModel(compressed);
    report.compressed = c;
    report.sizeRatio = o.bytes > 0 ? c.bytes / o.bytes : 0;
    report.opCountsDiff = opCountsDiff(o.opCounts, c.opCounts);
    report.layers = options.layers ?? layerRows(compressed.model);
  } else if (options.layers) {
    report.layers = options.layers;
  }
  const m = options.measured;
  if (m?.metrics) report.metrics = { ...m.metrics, measured: true };
  else report.metrics = { measured: false, note: notMeasuredNote };
  if (m?.fidelity) report.fidelity = m.fidelity;
  if (m?.runtime) report.runtime = m.runtime;
  if (m?.backend) report.backend = m.backend;
  report.gates = evaluateGates(report, options.gates);
  report.passed = report.gates.every((g) => g.pass);
  if (options.warnings && options.warnings.length > 0) report.warnings = options.warnings;
  return report;
}
