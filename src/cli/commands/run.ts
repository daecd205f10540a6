/**
 * `compress run`: a recipe (YAML or JSON) of compression steps applied in order, each on the previous
 * step's output, for one model or a glob of models:
 *
 * ```yaml
 * steps:
 *   - prune: { sparsity: 0.5 }
 *   - distill: { data: data/train_x.npy, labels: data/train_y.npy, epochs: 2 }
 *   - quantize: { bits: 8, weight-only: true }
 * ```
 *
 * Every step is checked before any work (STYLE.md habit 7), with the same code its subcommand uses: the
 * option names come from that subcommand's own flag declarations (camelCase or kebab-case), the values go
 * through its flag parser and then through its pass's `parse<Name>Options`. An unknown key names itself
 * and its step ("step 2 (prune): unknown option 'sparsty'"). Paths inside a recipe are relative to the
 * recipe file. The steps run in src/passes/run; the final report compares the last output with the
 * original model, measured and gated exactly like every other command (src/cli/commands/pipeline.ts).
 */
import { editDistance } from '../../core/strings.js';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { Command, type Option } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { RecipeStep, RunOptions, StepData, StepName } from '../../passes/run/options.js';
import { expandInputs } from '../batch/inputs.js';
import { addCommonOptions, addDataOptions, mustExist, parseCommonOptions, parseDataOptions, type DataOptions } from '../options.js';
import type { CliState } from '../program.js';
import { parseDistillFlags, registerDistill } from './distill.js';
import { parseGptqFlags, registerGptq } from './gptq.js';
import { runCompress } from './pipeline.js';
import { parsePruneFlags, registerPrune } from './prune.js';
import { parseQuantizeFlags, registerQuantize } from './quantize.js';
import { loadPass } from './registry.js';
import { parseSvdFlags, registerSvd } from './svd.js';

/** The steps a recipe may use, in the order the issue lists them. */
export const recipeStepNames: readonly StepName[] = ['svd', 'prune', 'distill', 'quantize', 'gptq'];

/** Top-level recipe keys besides `steps` (documentation only). */
const recipeInfoKeys = new Set(['name', 'description']);

/** Step options that hold paths, resolved against the recipe's folder. */
const pathKeys = new Set(['data', 'labels', 'evalData', 'evalLabels', 'checkpoint', 'teacher']);

/** Reads and parses a recipe file (YAML is a superset of JSON, so one parser reads both). */
export async function readRecipe(path: string): Promise<unknown> {
  mustExist(path, 'recipe');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read recipe '${path}': ${(e as NodeJS.ErrnoException).code === 'EISDIR' ? 'it is a folder' : (e as Error).message}`);
  }
  const { parse } = await import('yaml');
  try {
    return parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`recipe '${path}' is not valid YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** `group-size` -> `groupSize`. */
export function camelCase(key: string): string {
  return key.replace(/-+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** One option of a subcommand as a recipe may give it. */
interface StepOptionSpec {
  key: string;
  /** A switch (true / false), not a value. */
  isSwitch: boolean;
  /** Declared as --no-<name>: the key's value defaults to true. */
  negate: boolean;
  defaultValue: unknown;
}

const declarations = new Map<StepName, Map<string, StepOptionSpec>>();

/**
 * The options a step takes: its subcommand's flags as declared (so the recipe and the command line can
 * never disagree), less those that belong to the whole run (output, report, gates, seed, backend...)
 * and, for distill, less --student (the previous step's output is the student).
 */
export function stepOptionSpecs(name: StepName): Map<string, StepOptionSpec> {
  const cached = declarations.get(name);
  if (cached) return cached;
  const register = { quantize: registerQuantize, prune: registerPrune, svd: registerSvd, gptq: registerGptq, distill: registerDistill }[name];
  const program = new Command();
  // The actions are never run: this program only exists to read the declarations.
  register(program, { term: { out() {}, err() {}, interactive: false } as never, exitCode: 0, verbose: false });
  const cmd = program.commands.find((c) => c.name() === name)!;
  const common = new Set(addCommonOptions(new Command(), name).options.map((o: Option) => o.attributeName()));
  common.add('student');
  const specs = new Map<string, StepOptionSpec>();
  for (const o of cmd.options as Option[]) {
    const key = o.attributeName();
    if (common.has(key)) continue;
    specs.set(key, { key, isSwitch: !o.required && !o.optional, negate: o.negate, defaultValue: o.defaultValue });
  }
  declarations.set(name, specs);
  return specs;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Turns one step's options (as written in the recipe) into the raw form its subcommand's flag parser
 * reads (what commander would have collected), with `given` telling typed values from defaults.
 */
function rawStepOptions(label: string, name: StepName, written: Record<string, unknown>, recipeDir: string): { raw: Record<string, unknown>; given: Set<string> } {
  const specs = stepOptionSpecs(name);
  const raw: Record<string, unknown> = {};
  for (const s of specs.values()) if (s.defaultValue !== undefined) raw[s.key] = s.defaultValue;
  const given = new Set<string>();
  for (const [writtenKey, value] of Object.entries(written)) {
    let key = camelCase(writtenKey);
    let v = value;
    // `no-keep-sensitive: true` is the flag as typed; `keep-sensitive: false` says the same.
    if (!specs.has(key) && key.startsWith('no') && specs.get(key[2]!.toLowerCase() + key.slice(3))?.negate) {
      key = key[2]!.toLowerCase() + key.slice(3);
      if (typeof v === 'boolean') v = !v;
    }
    const spec = specs.get(key);
    if (!spec) {
      const known = [...specs.keys()].map(kebab);
      const near = known.filter((k) => editDistance(kebab(key), k) <= 2);
      throw new UsageError(`${label}: unknown option '${writtenKey}'`, `${near.length > 0 ? `did you mean '${near[0]}'? ` : ''}${name} takes: ${known.join(', ')}`);
    }
    if (given.has(key)) throw new UsageError(`${label}: option '${kebab(key)}' is given twice`);
    if (spec.isSwitch) {
      if (typeof v !== 'boolean') throw new UsageError(`${label}: option '${writtenKey}' is a switch: give true or false (got ${JSON.stringify(v)})`);
    } else if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) {
      v = v.join(',');
    } else if (typeof v !== 'string' && typeof v !== 'number') {
      throw new UsageError(`${label}: option '${writtenKey}' needs a value such as a number or a name (got ${JSON.stringify(v)})`);
    }
    if (pathKeys.has(key) && typeof v === 'string' && !v.startsWith('random:') && !isAbsolute(v)) v = join(recipeDir, v);
    raw[key] = v;
    given.add(key);
  }
  return { raw, given };
}

/**
 * Checks a parsed recipe against the subcommands' own flag rules and builds the runner's steps. `model`
 * is the first input (distill's student, and its teacher when the step names none, for the check).
 */
export function recipeSteps(recipe: unknown, recipePath: string, model: string): RecipeStep[] {
  const where = `recipe '${recipePath}'`;
  if (!isMapping(recipe)) throw new UsageError(`${where} must be a mapping with a list of steps`, 'steps: [ { quantize: { bits: 8 } } ]');
  for (const k of Object.keys(recipe)) {
    if (k !== 'steps' && !recipeInfoKeys.has(k)) throw new UsageError(`${where}: unknown key '${k}'`, 'a recipe has steps: (and optionally name: and description:)');
  }
  const list = recipe.steps;
  if (!Array.isArray(list) || list.length === 0) throw new UsageError(`${where} needs a non-empty list of steps`, 'steps: [ { quantize: { bits: 8 } } ]');
  const recipeDir = dirname(resolve(recipePath));
  return list.map((entry: unknown, i: number): RecipeStep => {
    const keys = isMapping(entry) ? Object.keys(entry) : [];
    if (keys.length !== 1) throw new UsageError(`step ${i + 1}: a step is one mapping '<name>: { options }' (got ${JSON.stringify(entry)})`);
    const written = keys[0]!;
    const name = written as StepName;
    if (!recipeStepNames.includes(name)) {
      throw new UsageError(`step ${i + 1}: unknown step '${written}'`, `a step is one of ${recipeStepNames.join(', ')}`);
    }
    const label = `step ${i + 1} (${name})`;
    const body = (entry as Record<string, unknown>)[written] ?? {};
    if (!isMapping(body)) throw new UsageError(`${label}: the options must be a mapping of option names to values (got ${JSON.stringify(body)})`);
    const { raw, given } = rawStepOptions(label, name, body, recipeDir);
    try {
      return checkedStep(name, raw, given, model);
    } catch (e) {
      if (e instanceof Error && !e.message.startsWith(label)) e.message = `${label}: ${e.message}`;
      throw e;
    }
  });
}

/** Runs the subcommand's flag parser on a step's raw options; returns the runner's step. */
function checkedStep(name: StepName, raw: Record<string, unknown>, given: Set<string>, model: string): RecipeStep {
  const has = (k: string) => given.has(k);
  let parsed: { flags: object; data: DataOptions };
  let teacher: string | undefined;
  switch (name) {
    case 'quantize':
      parsed = parseQuantizeFlags(raw, has);
      break;
    case 'prune':
      parsed = parsePruneFlags(raw, has);
      break;
    case 'svd':
      parsed = parseSvdFlags(raw);
      break;
    case 'gptq':
      parsed = parseGptqFlags(raw, has);
      break;
    case 'distill': {
      teacher = typeof raw.teacher === 'string' ? raw.teacher : undefined;
      parsed = parseDistillFlags({ ...raw, teacher: teacher ?? model, student: model }, has);
      break;
    }
  }
  const options: Record<string, unknown> = { ...parsed.flags };
  // The run decides these for every step; distill's student is the previous output, its teacher a path.
  for (const k of ['seed', 'backend', 'dryRun', 'teacherPath', 'studentPath']) delete options[k];
  const step: RecipeStep = { name, options };
  if (parsed.data.data !== undefined) {
    const data: StepData = { data: parsed.data.data, batchSize: parsed.data.batchSize };
    if (parsed.data.labels !== undefined) data.labels = parsed.data.labels;
    if (parsed.data.samples !== undefined) data.samples = parsed.data.samples;
    step.data = data;
  }
  if (teacher !== undefined) step.teacher = teacher;
  return step;
}

/** Declares `compress run`. */
export function registerRun(program: Command, state: CliState): void {
  const cmd = program
    .command('run')
    .summary('apply a recipe of compression steps in order')
    .description(
      "Runs the steps of a recipe (YAML or JSON: steps: [ { prune: { sparsity: 0.5 } }, { quantize: { bits: 8 } } ]), each on the previous step's output; " +
        'the report compares the end result with the original model. Paths in a recipe are relative to the recipe file. See docs/recipes.md.',
    )
    .argument('<recipe>', 'recipe file (.yaml, .yml or .json)')
    .argument('<model...>', "ONNX model files, quoted globs ('models/*.onnx', 'models/**/*.onnx') or folders (every .onnx below them)");
  addDataOptions(cmd, 'evaluation samples: the final result is measured against the original model on them (steps name their own data)');
  addCommonOptions(cmd, 'run');
  cmd.action(async (recipePath: string, models: string[], raw: Record<string, unknown>) => {
    const common = parseCommonOptions(raw);
    const data = parseDataOptions(raw, 'run');
    // The first model stands in for distill's student in the recipe check; runCompress expands them all again.
    const first = expandInputs(models, { command: 'run', exclude: common.output }).files[0]!;
    const recipe = await readRecipe(recipePath);
    const steps = recipeSteps(recipe, recipePath, first);
    const options: RunOptions = { steps, recipePath, seed: common.seed, backend: common.backend, dryRun: common.dryRun };
    // Each step's pass is loaded and its own option check run now, before any model is touched.
    const { checkSteps } = await import('../../passes/run/pass.js');
    await checkSteps(options, async (name) => loadPass(name));
    state.exitCode = await runCompress(state, { command: 'run', inputs: models, common, data, options: options as unknown as Record<string, unknown> });
  });
}
