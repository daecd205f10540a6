/**
 * `--summary FILE`: one JSON for a whole batch (or one shard of it), a row per model with its status,
 * exit code, bytes before and after, metrics and gates; and `compress report --merge`, which joins the
 * shards' summaries into one, rows sorted by input, totals summed, the worst exit code as the merged
 * run's. Summaries hold timings, so two runs' summaries differ even when their models do not.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { ExitCode, UsageError } from '../../core/errors.js';
import type { Gate, Report } from '../../report/schema.js';
import { byCodeUnits } from './inputs.js';
import type { Shard } from './shard.js';

/** What happened to one model. */
export type RowStatus = 'ok' | 'failed' | 'skipped' | 'planned';

/** One model's row. */
export interface SummaryRow {
  /** The input path as given (or as a folder or glob expanded to it). */
  input: string;
  output: string | null;
  report: string | null;
  /** ok: compressed and every gate passed; failed: an error or a failed gate; skipped: complete from an earlier run (--skip-existing); planned: --dry-run. */
  status: RowStatus;
  /** The model's exit code (a skipped model keeps the one its run recorded). */
  exitCode: number;
  error: string | null;
  /** Why a skipped model was skipped, or why a model was redone under --skip-existing. */
  note: string | null;
  bytes: { before: number | null; after: number | null };
  sizeRatio: number | null;
  metrics: Report['metrics'] | null;
  fidelity: Report['fidelity'] | null;
  gates: Gate[];
  passed: boolean | null;
  /** Wall time spent on this model in this run. */
  seconds: number;
}

/** Sums over the rows. */
export interface SummaryTotals {
  models: number;
  ok: number;
  failed: number;
  skipped: number;
  planned: number;
  bytesBefore: number;
  bytesAfter: number;
}

/** The --summary file. */
export interface Summary {
  schema: 1;
  kind: 'compress-summary';
  tool: string;
  command: string;
  /** The share this run took, or null for a whole batch (and for a merged summary). */
  shard: Shard | null;
  /** Models in the whole batch, before a shard took its share. */
  inputs: number;
  /** The worst exit code of the rows (the run's exit code). */
  exitCode: number;
  totals: SummaryTotals;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  rows: SummaryRow[];
  /** Only in a merged summary: the files joined, and which shards were (not) among them. */
  merged?: { file: string; shard: Shard | null; rows: number; exitCode: number }[];
  shards?: { count: number; present: number[]; missing: number[] } | null;
}

/** The parts of one model's outcome a row is made from. */
export interface RowSource {
  input: string;
  output?: string;
  reportPath?: string;
  status: RowStatus;
  exitCode: number;
  error?: string;
  note?: string;
  report?: Report;
  seconds: number;
}

/** A row from an outcome (a report, when there is one, gives the bytes, metrics and gates). */
export function summaryRow(s: RowSource): SummaryRow {
  const r = s.report;
  return {
    input: s.input,
    output: s.output ?? null,
    report: s.reportPath ?? null,
    status: s.status,
    exitCode: s.exitCode,
    error: s.error ?? null,
    note: s.note ?? null,
    bytes: { before: r?.original?.bytes ?? null, after: r?.compressed?.bytes ?? null },
    sizeRatio: r?.sizeRatio ?? null,
    metrics: r?.metrics ?? null,
    fidelity: r?.fidelity ?? null,
    gates: r?.gates ?? [],
    passed: r?.passed ?? null,
    seconds: Math.round(s.seconds * 1000) / 1000,
  };
}

/** The totals of some rows. */
export function totalsOf(rows: readonly SummaryRow[]): SummaryTotals {
  const count = (st: RowStatus) => rows.filter((r) => r.status === st).length;
  return {
    models: rows.length,
    ok: count('ok'),
    failed: count('failed'),
    skipped: count('skipped'),
    planned: count('planned'),
    bytesBefore: rows.reduce((n, r) => n + (r.bytes.before ?? 0), 0),
    bytesAfter: rows.reduce((n, r) => n + (r.bytes.after ?? 0), 0),
  };
}

/** The worst of some exit codes (0 for none). */
export function worstExitCode(codes: Iterable<number>): number {
  let w: number = ExitCode.ok;
  for (const c of codes) w = Math.max(w, c);
  return w;
}

/** Writes JSON atomically: a temporary file beside it, then a rename. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temp, path);
}

/** Reads a --summary file, or says (exit 2) why it is not one. */
export function readSummary(path: string): Summary {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the summary '${path}': ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let value: Partial<Summary>;
  try {
    value = JSON.parse(text) as Partial<Summary>;
  } catch {
    throw new UsageError(`'${path}' is not JSON`, 'give the files written by --summary');
  }
  if (value?.kind !== 'compress-summary' || value.schema !== 1 || !Array.isArray(value.rows) || typeof value.command !== 'string') {
    throw new UsageError(`'${path}' is not a compress summary`, 'give the files written by --summary');
  }
  return value as Summary;
}

/**
 * Joins summaries (usually one per shard) into one: rows sorted by input, totals summed, the worst exit
 * code. A model in two summaries, or summaries of different commands, are usage errors. When the
 * summaries come from shards of n, a missing shard is named and makes the merged exit code at least 1:
 * its models' outcomes are unknown.
 */
export function mergeSummaries(files: readonly { path: string; summary: Summary }[], tool: string): Summary {
  if (files.length === 0) throw new UsageError('--merge needs at least one summary file');
  const commands = [...new Set(files.map((f) => f.summary.command))];
  if (commands.length > 1) throw new UsageError(`the summaries are of different commands (${commands.join(', ')}); merge each command's shards on their own`);
  const owner = new Map<string, string>();
  const rows: SummaryRow[] = [];
  for (const f of files) {
    for (const r of f.summary.rows) {
      const other = owner.get(r.input);
      if (other !== undefined) throw new UsageError(`'${r.input}' is in both '${other}' and '${f.path}'`, 'each shard must be given once (--shard i/n with the same n, each i once)');
      owner.set(r.input, f.path);
      rows.push(r);
    }
  }
  rows.sort((a, b) => byCodeUnits(a.input, b.input));
  const sharded = files.map((f) => f.summary.shard).filter((s): s is Shard => s !== null && s !== undefined);
  let shards: Summary['shards'] = null;
  if (sharded.length > 0) {
    const counts = [...new Set(sharded.map((s) => s.count))];
    if (counts.length > 1 || sharded.length !== files.length) {
      throw new UsageError(`the summaries come from different splits (${files.map((f) => (f.summary.shard ? `${f.summary.shard.index}/${f.summary.shard.count}` : 'unsharded')).join(', ')})`, 'merge the shards of one run: --shard i/n with the same n');
    }
    const count = counts[0]!;
    const present = [...new Set(sharded.map((s) => s.index))].sort((a, b) => a - b);
    const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !present.includes(i));
    shards = { count, present, missing };
  }
  const starts = files.map((f) => f.summary.startedAt).filter(Boolean).sort();
  const ends = files.map((f) => f.summary.finishedAt).filter(Boolean).sort();
  const exitCode = Math.max(worstExitCode(files.map((f) => f.summary.exitCode)), worstExitCode(rows.map((r) => r.exitCode)), shards && shards.missing.length > 0 ? ExitCode.failure : ExitCode.ok);
  return {
    schema: 1,
    kind: 'compress-summary',
    tool,
    command: commands[0]!,
    shard: null,
    inputs: Math.max(...files.map((f) => f.summary.inputs ?? f.summary.rows.length)),
    exitCode,
    totals: totalsOf(rows),
    startedAt: starts[0] ?? '',
    finishedAt: ends[ends.length - 1] ?? '',
    seconds: Math.round(files.reduce((n, f) => n + (f.summary.seconds ?? 0), 0) * 1000) / 1000,
    rows,
    merged: files.map((f) => ({ file: f.path, shard: f.summary.shard ?? null, rows: f.summary.rows.length, exitCode: f.summary.exitCode })),
    shards,
  };
}
