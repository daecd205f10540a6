/**
 * `compress run`: a recipe of compression steps (svd, prune, distill, quantize, gptq) applied in order,
 * each on the previous step's output. See docs/recipes.md.
 */
export { parseRunOptions, stepNames, stepLabel, type RunOptions, type RecipeStep, type StepData, type StepName } from './options.js';
export { run, checkSteps, loadStepPass, stepSizes, type RunOutcome, type StepReport, type StepSizes, type StepPass, type StepLoader, type StepContext, type StepOutcome } from './pass.js';
