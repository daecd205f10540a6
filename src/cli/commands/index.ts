/**
 * The subcommands, in the order --help lists them. Each module declares its flags and a thin action;
 * the heavy work is imported inside the actions.
 */
import type { Command } from 'commander';
import type { CliState } from '../program.js';
import { registerDistill } from './distill.js';
import { registerGptq } from './gptq.js';
import { registerPrune } from './prune.js';
import { registerQuantize } from './quantize.js';
import { registerReport } from './report.js';
import { registerRun } from './run.js';
import { registerSvd } from './svd.js';

/** Adds every subcommand to the program. */
export function registerCompressCommands(program: Command, state: CliState): void {
  registerQuantize(program, state);
  registerGptq(program, state);
  registerPrune(program, state);
  registerSvd(program, state);
  registerDistill(program, state);
  registerRun(program, state);
  registerReport(program, state);
}
