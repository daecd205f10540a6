/**
 * The recipe runner: applies the steps of a recipe in order, each on the previous step's output, and
 * keeps what each step did (its sizes before and after, its layers, warnings and the pass's own report
 * keys) for the final report, which the CLI builds against the ORIGINAL model.
 *
 * Chaining is where compression methods combine ("1+1>2", as in Han et al., 2016, "Deep Compression":
 * prune, then retrain, then quantize): a structural step (svd, prune) removes parameters, distillation
 * recovers accuracy on the smaller model, and quantization shrinks what is left. Each step sees the model
 * as the steps before left it, and re-opens its own data for it (a factorized or pruned model has the same
 * inputs, but a step's calibration must observe the activations of the model it edits).
 *
 * The runner is the one module that calls other passes. It finds them by name next to itself at run time
 * (the same way the CLI's registry does), so no pass imports another and a build without a pass answers
 * for that step only.
 */
import { UsageError } from '../../core/errors.js';
import type { Context } from '../../core/logger.js';
import type { Model } from '../../ir/model.js';
import { loadModel, serializeModel } from '../../onnx/index.js';
import { loadLabels, openDataset } from '../../calibration/readers/index.js';
import type { Dataset } from '../../calibration/readers/dataset.js';
import type { LayerReport } from '../../report/schema.js';
import { weightStats } from '../../report/size.js';
import type { RTensor } from '../../runtime/value.js';
import { parseRunOptions, stepLabel, type RecipeStep, type RunOptions, type StepName } from './options.js';

/** What each step receives besides the logger: its data, opened for the model as the step finds it. */
export interface StepContext extends Context {
  data?: Iterable<Record<string, RTensor>>;
  dataset?: Dataset;
  labels?: Int32Array;
}

/** What a pass module returns (the PassOutcome of the CLI's registry, restated: passes do not import cli/). */
export interface StepOutcome {
  model: Model;
  modified?: boolean;
  layers?: LayerReport[];
  warnings?: string[];
  plan?: { bytes?: { before: number; after: number }; [key: string]: unknown };
  report?: Record<string, unknown>;
}

/** A pass as the runner calls it. */
export interface StepPass {
  run: (model: Model, options: unknown, ctx: StepContext) => StepOutcome | Promise<StepOutcome>;
  parseOptions?: (raw: unknown) => unknown;
}

/** Finds a step's pass; the default loads src/passes/<name>/index.js. Tests hand in their own. */
export type StepLoader = (name: StepName) => Promise<StepPass>;

/** Sizes of a model between steps (bytes as one serialized file, without external data). */
export interface StepSizes {
  bytes: number;
  params: number;
  bitsPerWeight: number;
  sparsity: number;
}

/** What the final report keeps of one step (under `steps`). */
export interface StepReport {
  step: number;
  name: StepName;
  /** The options as the step received them (regular expressions as their source). */
  options: Record<string, unknown>;
  data?: string;
  teacher?: string;
  before: StepSizes;
  after: StepSizes;
  modified: boolean;
  seconds: number;
  layers?: LayerReport[];
  warnings?: string[];
  /** The step pass's own report keys (distill's training metrics, say). */
  report?: Record<string, unknown>;
  plan?: unknown;
}

/** What the runner returns: a PassOutcome whose report holds `steps`. */
export interface RunOutcome extends StepOutcome {
  report: { recipe?: string; steps: StepReport[] };
}

/** The module URL of a pass, computed so that a build without it still compiles. */
function passUrl(name: StepName): URL {
  return new URL(`../${name}/index.js`, import.meta.url);
}

/** Loads a step's pass module: the function named like the step and its `parse<Name>Options`. */
export async function loadStepPass(name: StepName): Promise<StepPass> {
  const url = passUrl(name);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url.href)) as Record<string, unknown>;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes(url.pathname)) throw new UsageError(`the ${name} pass is not available in this build`);
    throw e;
  }
  const run = mod[name];
  if (typeof run !== 'function') throw new UsageError(`the ${name} pass is not available in this build`);
  const parse = mod[`parse${name[0]!.toUpperCase()}${name.slice(1)}Options`];
  return { run: run as StepPass['run'], parseOptions: typeof parse === 'function' ? (parse as (raw: unknown) => unknown) : undefined };
}

/** Bytes, parameters, bits per weight and sparsity of a model as it is now. */
export function stepSizes(model: Model): StepSizes {
  const w = weightStats(model);
  return { bytes: serializeModel(model).byteLength, params: w.params, bitsPerWeight: w.bitsPerWeight, sparsity: w.sparsity };
}

/** JSON-safe options for the report: regular expressions as their source, functions and models left out. */
function printable(options: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if (v instanceof RegExp) out[k] = v.source;
    else if (v instanceof Set) out[k] = [...v];
    else if (typeof v === 'function' || (typeof v === 'object' && v !== null && 'graph' in v)) continue;
    else out[k] = v;
  }
  return out;
}

/** Opens a step's data for `model` as re-iterable batches (the same form the CLI hands a single pass). */
function stepData(step: RecipeStep, model: Model, seed: number, ctx: Context): Partial<StepContext> {
  const d = step.data;
  if (!d) return {};
  const dataset = openDataset(d.data, model, { samples: d.samples, seed, logger: ctx.logger });
  if (dataset.synthetic) ctx.logger.warn(`${d.data} is synthetic: the step is shaped by random inputs and says nothing about accuracy`);
  const data: Iterable<Record<string, RTensor>> = {
    *[Symbol.iterator]() {
      for (const b of dataset.batches(d.batchSize)) yield b.feeds;
    },
  };
  const out: Partial<StepContext> = { data, dataset };
  if (d.labels) {
    const labels = loadLabels(d.labels);
    if (labels.length < dataset.samples) throw new UsageError(`labels '${d.labels}' hold ${labels.length} labels for ${dataset.samples} samples of '${d.data}'`);
    out.labels = labels;
  }
  return out;
}

/** Loads every step's pass and checks its options (nothing runs): the check made before any work. */
export async function checkSteps(options: RunOptions, loader: StepLoader = loadStepPass): Promise<StepPass[]> {
  const passes: StepPass[] = [];
  for (const [i, step] of options.steps.entries()) {
    try {
      const pass = await loader(step.name);
      pass.parseOptions?.(stepOptions(step, options));
      passes.push(pass);
    } catch (e) {
      throw prefixed(e, i, step.name);
    }
  }
  return passes;
}

/** A step's options as its pass receives them: the run's seed, backend and dry-run switch added. */
function stepOptions(step: RecipeStep, run: RunOptions): Record<string, unknown> {
  return { ...step.options, seed: run.seed, backend: run.backend, dryRun: run.dryRun };
}

/** The same error with "step N (name): " in front of its message (the type, so the exit code, is kept). */
function prefixed(e: unknown, index: number, name: string): unknown {
  if (!(e instanceof Error)) return e;
  const label = stepLabel(index, name);
  if (!e.message.startsWith(label)) e.message = `${label}: ${e.message}`;
  return e;
}

/**
 * Runs the recipe on `model` (edited in place, as every pass does). Steps run one after the other; an
 * error in a step stops the chain and names the step.
 */
export async function run(model: Model, rawOptions: unknown, ctx: Context, loader: StepLoader = loadStepPass): Promise<RunOutcome> {
  const options = parseRunOptions(rawOptions);
  const passes = await checkSteps(options, loader);
  // distill's teacher defaults to the original model: keep a copy before step 1 edits it.
  const needsOriginal = options.steps.some((s) => s.name === 'distill' && s.teacher === undefined);
  const original = needsOriginal ? await loadModel(serializeModel(model)) : undefined;

  const steps: StepReport[] = [];
  const warnings: string[] = [];
  let current = model;
  let modified = false;
  for (const [i, step] of options.steps.entries()) {
    const label = stepLabel(i, step.name);
    const t0 = performance.now();
    try {
      const raw = stepOptions(step, options);
      if (step.name === 'distill') raw.teacher = step.teacher !== undefined ? await loadModel(step.teacher) : original;
      const parsed = passes[i]!.parseOptions ? passes[i]!.parseOptions!(raw) : raw;
      const before = stepSizes(current);
      const stepCtx: StepContext = { ...ctx, ...stepData(step, current, options.seed, ctx) };
      ctx.logger.info(`${label}: ${before.bytes} bytes, ${before.params} params`);
      const result = await passes[i]!.run(current, parsed, stepCtx);
      current = result.model;
      modified ||= result.modified !== false;
      const after = stepSizes(current);
      const report: StepReport = {
        step: i + 1,
        name: step.name,
        options: printable(step.options),
        before,
        after,
        modified: result.modified !== false,
        seconds: (performance.now() - t0) / 1000,
      };
      if (step.data) report.data = step.data.data;
      if (step.name === 'distill') report.teacher = step.teacher ?? 'the original model';
      const stepWarnings = [...(result.warnings ?? []), ...(((result.report?.warnings as string[] | undefined) ?? []))];
      if (result.layers) report.layers = result.layers;
      if (stepWarnings.length > 0) report.warnings = stepWarnings;
      for (const w of stepWarnings) warnings.push(`${label}: ${w}`);
      if (result.report) {
        const own = Object.fromEntries(Object.entries(result.report).filter(([k]) => !['warnings', 'layers', 'original', 'compressed', 'schema', 'command'].includes(k)));
        if (Object.keys(own).length > 0) report.report = own;
      }
      if (options.dryRun && result.plan) report.plan = result.plan;
      steps.push(report);
      ctx.logger.info(`${label}: ${before.bytes} -> ${after.bytes} bytes, ${before.params} -> ${after.params} params, sparsity ${after.sparsity.toFixed(3)}, ${after.bitsPerWeight.toFixed(2)} bits/weight`);
    } catch (e) {
      throw prefixed(e, i, step.name);
    }
  }
  const outcome: RunOutcome = { model: current, modified, warnings, report: { steps } };
  if (options.recipePath !== undefined) outcome.report.recipe = options.recipePath;
  if (options.dryRun) {
    // With --dry-run every step leaves the model as it was, so each plans on the input: the expected
    // bytes add up the savings each step's plan announces.
    const saved = steps.reduce((s, r) => {
      const b = (r.plan as StepOutcome['plan'])?.bytes;
      return s + (b ? b.before - b.after : 0);
    }, 0);
    const before = steps[0]?.before.bytes ?? 0;
    outcome.plan = { bytes: { before, after: Math.max(0, before - saved) }, steps: steps.map((s) => ({ step: s.step, name: s.name, plan: s.plan ?? null })) };
  }
  return outcome;
}
