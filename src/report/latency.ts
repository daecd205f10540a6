/**
 * Latency percentiles of a repeated call: a few warm-up runs (onnxruntime allocates its arenas and picks
 * kernels on the first runs), then timed runs until a run count or a time budget is reached, whichever
 * comes first (but never fewer than `minRuns`, so that a slow model still gets a spread).
 */
import type { LatencyStats } from './schema.js';

/** How many runs and for how long. */
export interface LatencyOptions {
  /** Untimed runs first (default 5). */
  warmup?: number;
  /** Timed runs (default 20). */
  runs?: number;
  /** Stop earlier once this much time has been spent timing (default 2000 ms). */
  budgetMs?: number;
  /** Timed runs at least, whatever the budget (default 3). */
  minRuns?: number;
}

/** The p-th percentile (0..100) of sorted values, linearly interpolated (numpy's default). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Times `run` and returns p50 / p95 in milliseconds, with the number of timed runs. */
export async function measureLatency(run: () => Promise<unknown>, options: LatencyOptions = {}): Promise<LatencyStats & { runs: number }> {
  const warmup = options.warmup ?? 5;
  const runs = options.runs ?? 20;
  const minRuns = Math.min(runs, options.minRuns ?? 3);
  const budget = options.budgetMs ?? 2000;
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < runs && (times.length < minRuns || performance.now() - start < budget)) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95), runs: times.length };
}
