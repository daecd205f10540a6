/**
 * Typed errors with the exit codes of the command-line contract (../shared/CLI.md).
 * Errors are thrown anywhere below cli/ and mapped to an exit code once, in cli/main.ts.
 */

/** Exit codes from the contract. */
export const ExitCode = {
  ok: 0,
  /** a gate failed, the numerics could not reach what was asked, or an internal error */
  failure: 1,
  /** unknown flag, bad value, conflicting flags, missing file */
  usage: 2,
  /** the model is invalid or uses something unsupported */
  model: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Base class: an expected failure with a one-line message, an exit code and an optional hint. */
export class CompressError extends Error {
  readonly exitCode: ExitCode;
  readonly hint?: string;
  constructor(message: string, exitCode: ExitCode, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

/** Bad command-line usage or option value (exit 2). */
export class UsageError extends CompressError {
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, ExitCode.usage, hint, options);
  }
}

/** The model is invalid, corrupt, or uses an op / opset / type we do not support (exit 3). */
export class ModelError extends CompressError {
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, ExitCode.model, hint, options);
  }
}

/** The compression could not reach what was asked, or a numerical procedure failed (exit 1). */
export class NumericsError extends CompressError {
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, ExitCode.failure, hint, options);
  }
}

/** A report gate failed (exit 1). */
export class GateError extends CompressError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.failure, hint);
  }
}

/** Throws a ModelError when `condition` is false; for structural checks on models. */
export function assertModel(condition: unknown, message: string, hint?: string): asserts condition {
  if (!condition) throw new ModelError(message, hint);
}

/**
 * A command found nothing it could compress (no eligible weight): exit 1 with the one line that says why
 * ("nothing to quantize: 14 MatMul weights are excluded by --exclude"), and nothing is written.
 */
export class NothingToDoError extends CompressError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.failure, hint);
  }
}
