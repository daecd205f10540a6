/**
 * Errors that only the CLI raises. Everything else comes from core/errors.ts.
 */
import { CompressError, ExitCode } from '../core/errors.js';

/**
 * An error whose message is the whole line to print (the sink adds no `compress: error:` prefix), for
 * messages that name their own command, such as "compress gptq: this command is not available in this
 * build".
 */
export class CliLineError extends CompressError {
  constructor(line: string, exitCode: ExitCode = ExitCode.failure, hint?: string) {
    super(line, exitCode, hint);
  }
}
