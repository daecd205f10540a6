/**
 * Entry point of the `compress` command (bin/compress.js imports this file). It runs the program and
 * hands the exit code to Node through process.exitCode, so that stdout and stderr are flushed first.
 */
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2));
