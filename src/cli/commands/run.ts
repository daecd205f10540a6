/**
 * `compress run`: a recipe (YAML or JSON) of compression steps applied in order, each on the previous
 * step's output. The recipe runner is src/passes/run; this command checks that the recipe file exists
 * and parses, then hands it over.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { addCommonOptions, mustExist, parseCommonOptions } from '../options.js';
import type { CliState } from '../program.js';
import { runCompress } from './pipeline.js';

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

/** Declares `compress run`. */
export function registerRun(program: Command, state: CliState): void {
  const cmd = program
    .command('run')
    .summary('apply a recipe of compression steps in order')
    .description('Runs the steps of a recipe (YAML or JSON), each on the previous step\'s output.')
    .argument('<recipe>', 'recipe file (.yaml, .yml or .json)')
    .argument('<model...>', 'ONNX model file(s)');
  addCommonOptions(cmd, 'run');
  cmd.action(async (recipePath: string, models: string[], raw: Record<string, unknown>) => {
    const common = parseCommonOptions(raw);
    const recipe = await readRecipe(recipePath);
    state.exitCode = await runCompress(state, {
      command: 'run',
      inputs: models,
      common,
      options: { recipe, recipePath, seed: common.seed, backend: common.backend },
    });
  });
}
