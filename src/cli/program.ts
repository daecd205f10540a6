/**
 * The `compress` program: commander set-up, and the one error sink (STYLE.md habit 6).
 *
 * Every failure, wherever it is thrown, arrives here once and becomes one line on stderr,
 * `compress: error: <message>`, plus a `hint: ...` line when the error carries one, and an exit code:
 * a CompressError's own (usage 2, model 3, numerics and gates 1); commander's parse errors are usage
 * errors (2); anything else is an internal error (1) whose stack is printed only under --verbose.
 * Nothing here calls process.exit: the caller sets process.exitCode, so pending output is flushed.
 *
 * Startup cost matters (`compress --help` must be instant): this module and the command modules load
 * only commander, chalk and our option helpers; each action imports the heavy parts (protobufjs via
 * onnx/, TensorFlow.js via runtime/, the passes) when it runs.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ExitCode, UsageError } from '../core/errors.js';
import { registerCompressCommands } from './commands/index.js';
import { describeError, paintErrorLines } from './sink.js';
import { processTerminal, type Terminal } from './ui/terminal.js';

/** What the actions share with the sink: the terminal and the exit code they settled on. */
export interface CliState {
  term: Terminal;
  /** Set by an action that finished without throwing (e.g. the worst outcome of several models). */
  exitCode: number;
  /** --verbose was given (read from argv before parsing, so that parse errors honour it too). */
  verbose: boolean;
}

/** The version in our package.json, found by walking up from this file (works from dist/ and .build/). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'compress' && pkg.version) return pkg.version;
    } catch {
      // no package.json here: keep walking up
    }
    const up = dirname(dir);
    if (up === dir) return '0.0.0';
    dir = up;
  }
}

/** Builds the commander program; actions report through `state`. */
export function buildProgram(state: CliState): Command {
  const program = new Command('compress');
  program
    .description('Compress ONNX models: quantize, gptq, prune, svd, distill, and report what changed.')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help for a command')
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => state.term.out(s),
      writeErr: (s) => state.term.err(s),
      // Parse errors are printed by the sink, in its one-line form.
      outputError: () => {},
    })
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      [
        '',
        'Exit codes: 0 success (every gate passed); 1 a gate failed, the compression could not reach what was',
        'asked, or an internal error; 2 usage error (unknown flag, bad value, missing file); 3 the model is',
        'invalid or uses something unsupported.',
        'Run `compress <command> --help` for the options of a command.',
      ].join('\n'),
    );
  registerCompressCommands(program, state);
  return program;
}

/** A commander parse error as a UsageError ("error: unknown option '--x'\n(Did you mean --y?)"). */
function fromCommander(e: CommanderError): UsageError {
  const [first = '', ...rest] = e.message.split('\n');
  const message = first.replace(/^error:\s*/, '');
  const hint = rest.join(' ').replace(/^\((.*)\)$/, '$1').trim();
  return new UsageError(message, hint || undefined);
}

/**
 * Runs the program on `argv` (without node and script) and returns the exit code. All errors end here.
 */
export async function runCli(argv: string[], term: Terminal = processTerminal()): Promise<number> {
  const state: CliState = { term, exitCode: ExitCode.ok, verbose: argv.includes('--verbose') };
  const program = buildProgram(state);
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return ExitCode.usage;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return state.exitCode;
  } catch (e) {
    let err = e;
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return ExitCode.ok;
      if (e.code === 'commander.help') return ExitCode.usage;
      err = fromCommander(e);
    }
    const { lines, exitCode } = describeError(err, state.verbose);
    term.err(paintErrorLines(lines, term.color));
    return exitCode;
  }
}
