/**
 * The options of the recipe runner (`compress run`): an ordered list of steps, each naming a compression
 * pass and carrying the options that pass's subcommand takes, already checked for form by the CLI (the
 * same checks as the command line) with every path made absolute. This module checks the structure once
 * more, so that an API caller (or a worker thread, which receives a structured clone) gets a one-line
 * error instead of a failure halfway through the chain.
 */
import { UsageError } from '../../core/errors.js';

/** The passes a recipe can chain, in the order the issue lists them. */
export const stepNames = ['svd', 'prune', 'distill', 'quantize', 'gptq'] as const;
/** One of `stepNames`. */
export type StepName = (typeof stepNames)[number];

/** The data a step calibrates or trains on (CLI.md "Data for calibration, evaluation and training"). */
export interface StepData {
  data: string;
  labels?: string;
  samples?: number;
  batchSize: number;
}

/** One step of a recipe. */
export interface RecipeStep {
  name: StepName;
  /** What the subcommand would hand its pass (camelCase keys, values checked for form). */
  options: Record<string, unknown>;
  /** The step's own --data (and labels), opened for the model as it is when the step starts. */
  data?: StepData;
  /** distill only: the teacher's path; absent means the original model, as it was before step 1. */
  teacher?: string;
}

/** Validated options of the recipe runner. */
export interface RunOptions {
  steps: RecipeStep[];
  /** Where the recipe came from, for the report. */
  recipePath?: string;
  seed: number;
  backend: string;
  /** Every step plans and leaves the model as it was. */
  dryRun: boolean;
}

/** `1` -> "step 1 (prune)". */
export function stepLabel(index: number, name: string): string {
  return `step ${index + 1} (${name})`;
}

/** Checks the runner's options (as the CLI builds them, or an API caller's object). */
export function parseRunOptions(raw: unknown): RunOptions {
  const r = (raw ?? {}) as Record<string, unknown>;
  if (!Array.isArray(r.steps) || r.steps.length === 0) throw new UsageError('a recipe needs a non-empty list of steps', 'steps: [ { quantize: { bits: 8 } } ]');
  const steps = (r.steps as unknown[]).map((s, i): RecipeStep => {
    const step = s as Partial<RecipeStep> | null;
    const name = step?.name;
    if (typeof name !== 'string' || !(stepNames as readonly string[]).includes(name)) {
      throw new UsageError(`step ${i + 1}: unknown step '${String(name)}'`, `a step is one of ${stepNames.join(', ')}`);
    }
    const options = step?.options ?? {};
    if (typeof options !== 'object' || Array.isArray(options)) throw new UsageError(`${stepLabel(i, name)}: the options must be a mapping of option names to values`);
    const out: RecipeStep = { name: name as StepName, options: options as Record<string, unknown> };
    if (step?.data !== undefined) {
      if (typeof step.data.data !== 'string') throw new UsageError(`${stepLabel(i, name)}: data must name a file, a folder or random:<n>`);
      out.data = step.data;
    }
    if (step?.teacher !== undefined) {
      if (name !== 'distill') throw new UsageError(`${stepLabel(i, name)}: unknown option 'teacher'`);
      if (typeof step.teacher !== 'string') throw new UsageError(`${stepLabel(i, name)}: teacher must be the path of an ONNX model`);
      out.teacher = step.teacher;
    }
    return out;
  });
  const seed = r.seed === undefined ? 0 : Number(r.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer (got ${String(r.seed)})`);
  const options: RunOptions = { steps, seed, backend: typeof r.backend === 'string' ? r.backend : 'auto', dryRun: r.dryRun === true };
  if (typeof r.recipePath === 'string') options.recipePath = r.recipePath;
  return options;
}
