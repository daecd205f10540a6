/**
 * The CLI's Logger (core/logger.ts) and the Context handed to passes: info and warnings on stderr,
 * debug lines only with --verbose, informational lines dropped with --quiet (warnings stay: they say
 * something is wrong with the result).
 */
import type { Context, Logger, Progress } from '../../core/logger.js';
import { BarProgress, QuietProgress, type LineSink } from './progress.js';
import type { Terminal } from './terminal.js';

/** --quiet and --verbose. */
export interface Verbosity {
  quiet: boolean;
  verbose: boolean;
}

/** Logger writing to stderr through a LineSink (so lines land above progress bars). */
export class CliLogger implements Logger {
  sink: LineSink;

  constructor(
    private readonly term: Terminal,
    private readonly verbosity: Verbosity,
    sink?: LineSink,
  ) {
    this.sink = sink ?? { line: (text) => term.err(`${text}\n`) };
  }

  debug(message: string): void {
    if (this.verbosity.verbose) this.sink.line(this.term.color.dim(`debug: ${message}`));
  }

  info(message: string): void {
    if (!this.verbosity.quiet) this.sink.line(message);
  }

  warn(message: string): void {
    this.sink.line(`${this.term.color.yellow('warning:')} ${message}`);
  }
}

/** The Context of one CLI run: bars only on an interactive terminal without --quiet. */
export function createCliContext(term: Terminal, verbosity: Verbosity): Context & { logger: CliLogger; progress: Progress } {
  const logger = new CliLogger(term, verbosity);
  const progress = term.interactive && !verbosity.quiet ? new BarProgress(term) : new QuietProgress(term, (m) => logger.debug(m));
  logger.sink = progress;
  return { logger, progress };
}
