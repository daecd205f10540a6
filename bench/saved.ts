/**
 * The command-line shell of the benchmarks against the peer (bench/peers.ts, bench/llm.ts): run, or read
 * saved runs back (--from), save the result (--save), print it as a table or as JSON (--json); on an
 * error one line on stderr (the stack with --verbose) and exit code 1; a stopped benchmark stops the tools
 * it started.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { arg } from './cases.js';
import { killChildrenOnSignals } from './proctree.js';
import { firstLine } from './table.js';

/**
 * Runs benchmark `name`: `run()` measures, or `--from a.json[,b.json...]` reads saved results (several
 * folded by `combine`, which without one takes the first); `render` makes the table.
 */
export function benchMain<T>(name: string, run: () => Promise<T>, render: (result: T) => string, combine?: (a: T, b: T) => T): void {
  const argv = process.argv.slice(2);
  const main = async () => {
    const from = arg('--from', '');
    const saved = from === '' ? [] : from.split(',').map((f) => JSON.parse(readFileSync(f, 'utf8')) as T);
    const result = from === '' ? await run() : combine ? saved.reduce(combine) : saved[0]!;
    const save = arg('--save', '');
    if (save !== '') writeFileSync(save, JSON.stringify(result, null, 1) + '\n');
    process.stdout.write(argv.includes('--json') ? JSON.stringify(result, null, 1) + '\n' : render(result));
  };
  killChildrenOnSignals();
  main().catch((e) => {
    process.stderr.write(`${name}: ${firstLine(e)}\n`);
    if (argv.includes('--verbose')) console.error(e);
    process.exitCode = 1;
  });
}
