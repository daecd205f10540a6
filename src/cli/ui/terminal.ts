/**
 * The terminal as the CLI sees it: two streams, whether colours are allowed, whether progress bars may
 * be drawn. Colours follow https://no-color.org (NO_COLOR set and non-empty turns them off) and are only
 * used when stderr is a TTY; bars only on a TTY and without --quiet. Everything the CLI prints goes
 * through here, so tests that spawn the CLI (never a TTY) get plain, stable text.
 */
import { Chalk, type ChalkInstance } from 'chalk';

/** The two output streams and what they allow. */
export interface Terminal {
  /** Writes to stdout (the product: a report table, JSON). */
  out(text: string): void;
  /** Writes to stderr (messages, summaries, errors). */
  err(text: string): void;
  /** Colour functions; all identity when colours are off. */
  readonly color: ChalkInstance;
  /** True when stderr is a terminal a human watches (progress bars are allowed). */
  readonly interactive: boolean;
  readonly stderr: NodeJS.WriteStream;
}

/** Whether the environment allows colours on a stream (no-color.org, TERM=dumb, TTY only). */
export function colorsAllowed(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

/** The process's terminal. */
export function processTerminal(env: NodeJS.ProcessEnv = process.env): Terminal {
  const color = new Chalk({ level: colorsAllowed(process.stderr, env) ? 1 : 0 });
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    color,
    interactive: process.stderr.isTTY === true && env.TERM !== 'dumb',
    stderr: process.stderr,
  };
}
