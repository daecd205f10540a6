/**
 * The bookkeeping of a batch around runCompress's per-model loop: which outputs --skip-existing keeps,
 * each output's manifest (removed before a model is made, written after), progress in models done and
 * left on stderr, and the --summary file at the end.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ExitCode } from '../../core/errors.js';
import type { Context, ProgressTask } from '../../core/logger.js';
import type { Report } from '../../report/schema.js';
import type { BackendName } from '../../runtime/backend.js';
import { batchKey, checkComplete, removeManifest, writeManifest, type BatchKey } from './manifest.js';
import type { Shard } from './shard.js';
import { summaryRow, totalsOf, worstExitCode, writeJsonAtomic, type RowStatus, type Summary } from './summary.js';

/** One model's outcome, as the loop and the summary see it. */
export interface ModelOutcome {
  input: string;
  output?: string;
  exitCode: number;
  report?: Report;
  error?: string;
  /** ok / failed by exit code unless set (skipped, planned). */
  status?: RowStatus;
  /** Why a model was skipped or made again. */
  note?: string;
  reportPath?: string;
  seconds?: number;
}

/** An output and where its report goes. */
export interface OutputPaths {
  input: string;
  output: string;
  reportPath?: string;
}

/** What --skip-existing decided for one output. */
export type SkipDecision = { skip: ModelOutcome } | { skip?: undefined; replace: boolean; note?: string };

/** What a batch run needs to know. */
export interface BatchRunOptions {
  command: string;
  tool: string;
  /** The pass's options, the data options, the gates and the backend asked for: the manifest key. */
  keyParts: { options: Record<string, unknown>; data?: object; gates?: object; backend: BackendName };
  dryRun: boolean;
  skipExisting: boolean;
  summary?: string;
  shard?: Shard;
  /** Models in the whole batch (all shards). */
  inputs: number;
  /** Models this run works through. */
  total: number;
  /** Show models done and left (a batch of several). */
  showProgress: boolean;
  /** Human lines go to stderr through the logger; the bar is drawn only on a terminal. */
  ctx: Context;
  interactive: boolean;
}

function readReport(path: string | undefined): Report | undefined {
  if (path === undefined || !existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Report;
  } catch {
    return undefined;
  }
}

/** The paths of a report's `files` list (the model file and its external data files). */
function filesOf(files: unknown): string[] {
  return Array.isArray(files) ? files.map((f: { path?: unknown }) => f.path).filter((p): p is string => typeof p === 'string') : [];
}

/** The state of one batch run (module comment). */
export class BatchRun {
  private keyPromise?: Promise<BatchKey>;
  private readonly started = new Date();
  private bar?: ProgressTask;
  private done = 0;
  private failed = 0;
  private skipped = 0;

  constructor(private readonly o: BatchRunOptions) {
    if (o.showProgress && o.total > 0) this.bar = o.ctx.progress.start(`${o.command}: models`, o.total);
  }

  /** The manifest key, computed once (it hashes the data files the options name). */
  key(): Promise<BatchKey> {
    this.keyPromise ??= batchKey({ tool: this.o.tool, command: this.o.command, ...this.o.keyParts });
    return this.keyPromise;
  }

  /**
   * Under --skip-existing: a complete output is kept (its recorded exit code and report stand for it);
   * any other existing output is replaced, saying why.
   */
  async decide(p: OutputPaths): Promise<SkipDecision> {
    if (!this.o.skipExisting) return { replace: false };
    const verdict = await checkComplete(p.input, p.output, p.reportPath, await this.key());
    if (verdict.complete) {
      const m = verdict.manifest;
      return {
        skip: {
          input: p.input,
          output: p.output,
          reportPath: p.reportPath,
          exitCode: m.result.exitCode,
          report: readReport(p.reportPath),
          status: 'skipped',
          note: 'complete: made from the same input, options and backend',
        },
      };
    }
    const exists = existsSync(p.output);
    return { replace: exists, ...(exists ? { note: `made again: ${verdict.reason}` } : {}) };
  }

  /** Before a model is made: its old manifest goes, so an interruption leaves it incomplete. */
  async before(p: OutputPaths): Promise<void> {
    if (!this.o.dryRun) await removeManifest(p.output);
  }

  /** After a model was made: its manifest, when an output was written. */
  async after(p: OutputPaths, outcome: ModelOutcome): Promise<void> {
    const r = outcome.report;
    if (this.o.dryRun || r === undefined || !existsSync(p.output)) return;
    const used = typeof r.backend === 'string' ? r.backend.split(' ')[0]! : null;
    await writeManifest(await this.key(), {
      input: p.input,
      inputFiles: filesOf(r.original.files),
      output: p.output,
      outputFiles: filesOf(r.compressed?.files),
      reportPath: p.reportPath,
      backendUsed: used,
      exitCode: outcome.exitCode,
      bytesBefore: r.original.bytes,
      bytesAfter: r.compressed?.bytes ?? 0,
    });
  }

  /** A model finished (or was skipped): the count of models done and left. */
  finished(outcome: ModelOutcome): void {
    this.done++;
    if (outcome.status === 'skipped') this.skipped++;
    else if (outcome.exitCode !== ExitCode.ok) this.failed++;
    if (!this.o.showProgress) return;
    const left = this.o.total - this.done;
    const extra = [this.skipped > 0 ? `${this.skipped} skipped` : '', this.failed > 0 ? `${this.failed} failed` : ''].filter(Boolean).join(', ');
    const text = `${this.done} of ${this.o.total} models done, ${left} left${extra ? ` (${extra})` : ''}`;
    this.bar?.tick(1, text);
    if (!this.o.interactive) this.o.ctx.logger.info(`${this.o.command}: ${text}`);
    if (left === 0) this.bar?.done();
  }

  /** Writes the --summary file (when asked) from the outcomes in order. */
  async writeSummary(outcomes: readonly ModelOutcome[]): Promise<Summary | undefined> {
    this.bar?.done();
    if (this.o.summary === undefined) return undefined;
    const rows = outcomes.map((x) =>
      summaryRow({
        ...x,
        status: x.status ?? (this.o.dryRun ? 'planned' : x.exitCode === ExitCode.ok ? 'ok' : 'failed'),
        seconds: x.seconds ?? 0,
      }),
    );
    const finished = new Date();
    const summary: Summary = {
      schema: 1,
      kind: 'compress-summary',
      tool: this.o.tool,
      command: this.o.command,
      shard: this.o.shard ?? null,
      inputs: this.o.inputs,
      exitCode: worstExitCode(rows.map((r) => r.exitCode)),
      totals: totalsOf(rows),
      startedAt: this.started.toISOString(),
      finishedAt: finished.toISOString(),
      seconds: (finished.getTime() - this.started.getTime()) / 1000,
      rows,
    };
    await mkdir(dirname(resolve(this.o.summary)), { recursive: true });
    await writeJsonAtomic(this.o.summary, summary);
    return summary;
  }
}
