/**
 * The one error sink's wording: how any thrown value becomes the lines on stderr and an exit code.
 * `compress: error: <message>` (one line), `hint: <hint>` when the error has one; CompressErrors keep
 * their exit code; anything else is an internal error (exit 1) whose stack only --verbose shows.
 */
import { CompressError, ExitCode } from '../core/errors.js';
import { CliLineError } from './errors.js';

/** The lines the sink prints for an error, and the exit code. */
export function describeError(e: unknown, verbose: boolean): { lines: string[]; exitCode: number } {
  if (e instanceof CliLineError) return { lines: [e.message, ...(e.hint ? [`hint: ${e.hint}`] : [])], exitCode: e.exitCode };
  if (e instanceof CompressError) {
    const lines = [`compress: error: ${oneLine(e.message)}`];
    if (e.hint) lines.push(`hint: ${oneLine(e.hint)}`);
    // Usage errors are about the command line, not the code: no stack for them even under --verbose.
    if (verbose && e.stack && e.exitCode !== ExitCode.usage) lines.push(e.stack);
    return { lines, exitCode: e.exitCode };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  const lines = [`compress: error: internal error: ${oneLine(err.message)}`];
  if (verbose) {
    if (err.stack) lines.push(err.stack);
    if (err.cause instanceof Error && err.cause.stack) lines.push(`caused by: ${err.cause.stack}`);
  } else {
    lines.push('hint: run again with --verbose for the stack trace, and report it as a bug');
  }
  return { lines, exitCode: ExitCode.failure };
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** The sink's lines as printed: `error:` in red and `hint:` dimmed when the terminal allows colours. */
export function paintErrorLines(lines: string[], color: { red(s: string): string; dim(s: string): string }): string {
  return `${lines.map((l) => l.replace(/^compress: error:/, `compress: ${color.red('error:')}`).replace(/^hint:/, color.dim('hint:'))).join('\n')}\n`;
}
