/**
 * The report JSON of docs/cli.md (schema 1). Keys here are a stable contract: add, never rename.
 */

export interface ModelSummary {
  path?: string;
  /** Model file plus its external data files. */
  bytes: number;
  params: number;
  opCounts: Record<string, number>;
  /** Average stored bits per weight parameter (compressed side). */
  bitsPerWeight?: number;
  /** Share of weight parameters that are exactly zero. */
  sparsity?: number;
  [key: string]: unknown;
}

export interface TaskMetrics {
  accuracy?: number;
  perplexity?: number;
  [key: string]: unknown;
}

export interface Fidelity {
  top1Agreement?: number;
  kl?: number;
  cosine?: number;
  maxAbsDiff?: number;
  sqnrDb?: number;
}

export interface LatencyStats {
  p50: number;
  p95: number;
}

export interface RuntimeInfo {
  name: 'onnxruntime-node';
  version: string;
  loaded: boolean;
  latencyMs?: { original?: LatencyStats; compressed?: LatencyStats };
  error?: string;
}

/** One compressed weight or layer. */
export interface LayerReport {
  name: string;
  op: string;
  bits?: number;
  sparsity?: number;
  rank?: number;
  params: number;
  /** Relative reconstruction error (e.g. ||WX - QX||^2 / ||WX||^2, or ||W - Q||^2 / ||W||^2 without data). */
  error?: number;
  [key: string]: unknown;
}

/**
 * One activation tensor of a static quantization (the report's `activations`): the range calibration chose
 * for it and why, and what was written.
 */
export interface ActivationReport {
  tensor: string;
  /** The method whose range it got: 'minmax', 'percentile 99.99', 'mse', 'entropy', or auto's 'lp3'... */
  method: string;
  /** The range chosen for this tensor. */
  min: number;
  max: number;
  /** The smallest and largest value calibration saw. */
  observed?: { min: number; max: number };
  /** The chosen range's relative quantization error, mean |x - q(x)|^p / mean |x|^p (p in the report's `calibration`). */
  error?: number;
  /** With auto: the best range another candidate gave, and its error. */
  runnerUp?: { method: string; min: number; max: number; error: number };
  /** When the tensor shares its parameters (Concat, Reshape, Transpose...): the union range written for them all. */
  shared?: { min: number; max: number };
  /** The Relu or Clip folded into this tensor's range (its own range is the activation's). */
  fused?: string;
  /** What was written: QuantizeLinear's scale and uint8 zero point. */
  scale: number;
  zeroPoint: number;
}

export interface Gate {
  name: string;
  limit: number;
  value: number | null;
  pass: boolean;
}

export interface Report {
  schema: 1;
  command: string;
  original: ModelSummary;
  compressed?: ModelSummary;
  sizeRatio?: number;
  metrics?: { original?: TaskMetrics; compressed?: TaskMetrics; measured?: boolean; note?: string };
  fidelity?: Fidelity;
  runtime?: RuntimeInfo;
  /** The tfjs backend our executor used, when it ran. */
  backend?: string;
  layers?: LayerReport[];
  gates: Gate[];
  passed: boolean;
  warnings?: string[];
  [key: string]: unknown;
}
