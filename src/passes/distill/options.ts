/**
 * The options of `compress distill` (CLI.md), validated once before any work (STYLE.md habit 7): the
 * CLI's flags and the programmatic API both end in `parseDistillOptions`, which fills the defaults and
 * names the offending option and its allowed range.
 */
import { UsageError } from '../../core/errors.js';
import { Model } from '../../ir/model.js';
import { backendNames, type BackendName } from '../../runtime/backend.js';

/** A teacher tensor matched to a student tensor (--hidden t=s). */
export interface HiddenPair {
  teacher: string;
  student: string;
}

/** What the training is for: decides the hard-label loss and the evaluation metric. */
export type DistillTask = 'auto' | 'classification' | 'lm' | 'regression';

/** Validated distill options, defaults filled in. */
export interface DistillOptions {
  /**
   * The teacher model (loaded); it only runs forward. The CLI loads it after the options are checked,
   * so it may be absent here; `distill` requires it.
   */
  teacher?: Model;
  epochs: number;
  batchSize: number;
  /** Peak learning rate of the cosine schedule. */
  lr: number;
  temperature: number;
  /** Weight of the soft-target loss against the label loss (1 when there are no labels). */
  alpha: number;
  hidden: HiddenPair[];
  /** Held-out data (CLI.md --data forms) evaluated after each epoch; the best epoch's weights are kept. */
  evalData?: string;
  /** Integer labels (.npy) of the eval data: the metric is then accuracy. */
  evalLabels?: string;
  /** Folder of the checkpoint written after each epoch and on interruption. */
  checkpoint?: string;
  /** Continue from the checkpoint in `checkpoint`. */
  resume: boolean;
  seed: number;
  backend: BackendName;
  task: DistillTask;
  /** Decoupled weight decay of AdamW (on weight matrices, not biases). */
  weightDecay: number;
  /** Gradients are scaled down when their global L2 norm exceeds this (0: no clipping). */
  clipNorm: number;
  /** Linear warm-up steps (default: a tenth of the run, at most 100). */
  warmupSteps?: number;
  /** Use at most this many training samples. */
  samples?: number;
  /** With --dry-run the student is left as it was; the plan lists what would be trained. */
  dryRun: boolean;
  /** Aborting it stops training after the current step, writes the checkpoint, and throws DistillInterrupted. */
  signal?: AbortSignal;
}

/** The option defaults (CLI.md). */
export const distillDefaults = {
  epochs: 3,
  batchSize: 32,
  lr: 1e-3,
  temperature: 4,
  alpha: 0.7,
  seed: 0,
  weightDecay: 0.01,
  clipNorm: 1,
} as const;

function num(raw: Record<string, unknown>, key: string, flag: string, def: number, check: (x: number) => boolean, range: string): number {
  const v = raw[key];
  if (v === undefined) return def;
  const x = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(x) || !check(x)) throw new UsageError(`${flag} must be ${range} (got ${String(v)})`);
  return x;
}

function optionalString(raw: Record<string, unknown>, key: string): string | undefined {
  const v = raw[key];
  return v === undefined || v === null ? undefined : String(v);
}

/**
 * Checks raw distill options (the CLI's flags camelCased, or an API caller's object) and fills defaults.
 * `teacher`, when present, must be a loaded Model.
 */
export function parseDistillOptions(raw: unknown): DistillOptions {
  const r = (raw ?? {}) as Record<string, unknown>;
  if (r.teacher !== undefined && !(r.teacher instanceof Model)) throw new UsageError('options.teacher must be a loaded Model (await loadModel(path))');
  const isInt = (x: number) => Number.isInteger(x);
  const epochs = num(r, 'epochs', '--epochs', distillDefaults.epochs, (x) => isInt(x) && x >= 1, 'an integer >= 1');
  const batchSize = num(r, 'batchSize', '--batch-size', distillDefaults.batchSize, (x) => isInt(x) && x >= 1, 'an integer >= 1');
  const lr = num(r, 'lr', '--lr', distillDefaults.lr, (x) => x > 0 && x <= 10, 'in (0, 10]');
  const temperature = num(r, 'temperature', '--temperature', distillDefaults.temperature, (x) => x > 0 && x <= 1000, 'in (0, 1000]');
  const alpha = num(r, 'alpha', '--alpha', distillDefaults.alpha, (x) => x >= 0 && x <= 1, 'in [0, 1]');
  const seed = num(r, 'seed', '--seed', distillDefaults.seed, (x) => isInt(x) && x >= 0, 'a non-negative integer');
  const weightDecay = num(r, 'weightDecay', '--weight-decay', distillDefaults.weightDecay, (x) => x >= 0 && x <= 1, 'in [0, 1]');
  const clipNorm = num(r, 'clipNorm', '--clip-norm', distillDefaults.clipNorm, (x) => x >= 0, '>= 0 (0 turns clipping off)');
  const backend = (optionalString(r, 'backend') ?? 'auto') as BackendName;
  if (!(backendNames as readonly string[]).includes(backend)) throw new UsageError(`--backend must be one of ${backendNames.join(', ')} (got ${backend})`);
  const task = (optionalString(r, 'task') ?? 'auto') as DistillTask;
  if (!['auto', 'classification', 'lm', 'regression'].includes(task)) throw new UsageError(`--task must be auto, classification, lm or regression (got ${task})`);
  const hidden: HiddenPair[] = [];
  if (r.hidden !== undefined) {
    if (!Array.isArray(r.hidden)) throw new UsageError('hidden must be a list of { teacher, student } tensor names');
    for (const p of r.hidden as unknown[]) {
      const pair = p as Partial<HiddenPair>;
      if (typeof pair?.teacher !== 'string' || typeof pair?.student !== 'string') throw new UsageError('each --hidden pair is <teacher_tensor>=<student_tensor>');
      hidden.push({ teacher: pair.teacher, student: pair.student });
    }
  }
  const checkpoint = optionalString(r, 'checkpoint');
  const resume = r.resume === true;
  if (resume && checkpoint === undefined) throw new UsageError('--resume needs --checkpoint <dir>', 'give the folder the earlier run wrote its checkpoints to');
  const evalLabels = optionalString(r, 'evalLabels');
  const evalData = optionalString(r, 'evalData');
  if (evalLabels !== undefined && evalData === undefined) throw new UsageError('--eval-labels needs --eval-data');
  const out: DistillOptions = {
    epochs,
    batchSize,
    lr,
    temperature,
    alpha,
    hidden,
    resume,
    seed,
    backend,
    task,
    weightDecay,
    clipNorm,
    dryRun: r.dryRun === true,
  };
  if (r.teacher instanceof Model) out.teacher = r.teacher;
  if (evalData !== undefined) out.evalData = evalData;
  if (evalLabels !== undefined) out.evalLabels = evalLabels;
  if (checkpoint !== undefined) out.checkpoint = checkpoint;
  if (r.warmupSteps !== undefined) out.warmupSteps = num(r, 'warmupSteps', '--warmup', 0, (x) => isInt(x) && x >= 0, 'an integer >= 0');
  if (r.samples !== undefined) out.samples = num(r, 'samples', '--samples', 0, (x) => isInt(x) && x >= 1, 'an integer >= 1');
  if (r.signal !== undefined) {
    if (!(r.signal instanceof AbortSignal)) throw new UsageError('signal must be an AbortSignal');
    out.signal = r.signal;
  }
  return out;
}
