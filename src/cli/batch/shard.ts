/**
 * `--shard i/n`: the i-th (1-based) of n deterministic shares of a batch, for the engine that hands each
 * worker an index (a CI matrix, a Kubernetes Indexed Job). The inputs are sorted by their path below the
 * tree's root (code-unit order: the same on every machine and locale), and shard i takes every n-th model
 * from the i-th on, so n workers given i = 1..n cover each model exactly once and their shares differ in
 * size by at most one.
 */
import { relative, resolve, sep } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { byCodeUnits } from './inputs.js';

/** A validated --shard. */
export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** Parses `i/n` (integers, 1 <= i <= n), or names the flag and the form it needs (a usage error). */
export function parseShard(raw: unknown): Shard {
  const text = String(raw).trim();
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    throw new UsageError(`--shard must be i/n with integers 1 <= i <= n (got '${text}')`, 'for example --shard 2/4 for the second of four workers');
  }
  return { index, count };
}

/** The inputs in shard order: by their path below `root`, with '/' separators. */
export function sortedForShards(inputs: readonly string[], root: string): string[] {
  const key = (p: string) => relative(root, resolve(p)).split(sep).join('/');
  return inputs
    .map((p) => ({ p, k: key(p) }))
    .sort((a, b) => byCodeUnits(a.k, b.k))
    .map((x) => x.p);
}

/** Shard `shard`'s share of the sorted inputs: positions index-1, index-1+count, ... */
export function shareOf<T>(sorted: readonly T[], shard: Shard): T[] {
  return sorted.filter((_, k) => k % shard.count === shard.index - 1);
}
