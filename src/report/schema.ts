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
