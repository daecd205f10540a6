/**
 * The logger and progress interfaces handed down from cli/ to everything below it.
 * Nothing below cli/ writes to the terminal directly (STYLE.md, anti-patterns).
 */

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

/** A logger that drops everything: the default for API callers who pass none. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
};

/** One unit of long work (a bar). `total` may be updated as work is discovered. */
export interface ProgressTask {
  tick(delta?: number, detail?: string): void;
  setTotal(total: number): void;
  done(): void;
}

/** Creates progress tasks; cli/ui implements it with cli-progress, tests and the API use `noProgress`. */
export interface Progress {
  start(label: string, total: number): ProgressTask;
}

export const noProgress: Progress = {
  start() {
    return { tick() {}, setTotal() {}, done() {} };
  },
};

/** What passes, readers and the runtime receive to talk to the outside world. */
export interface Context {
  logger: Logger;
  progress: Progress;
}

export const defaultContext: Context = { logger: silentLogger, progress: noProgress };
