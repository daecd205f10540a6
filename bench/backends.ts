/**
 * Running a benchmark on several executor backends in one `npm run bench*`: each backend in its own
 * process, one after the other (tfjs has one backend per process, and a wasm thread pool left alive
 * would disturb the next measurement), each printing JSON that the parent gathers into one table.
 * `--backend <name>` runs a single backend in this process instead; `--backends a,b` chooses the list.
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

/** The backends `npm run bench` compares by default: the one a plain install runs, and TensorFlow's. */
export const defaultBackends = ['wasm', 'tfjs-node'];

/** What one backend's child process reported. */
export interface BackendRun<T> {
  backend: string;
  /** The child's JSON output, when it ran. */
  result?: T;
  /** Why it did not (its last line of error output). */
  error?: string;
  /** 1-minute load average when the child started and when it ended. */
  load: [number, number];
}

/** The value of `--name` in `argv`, or undefined. */
function option(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** The single backend asked for with --backend, if any (the child case). */
export function singleBackend(argv: readonly string[] = process.argv): string | undefined {
  return option(argv, '--backend');
}

/**
 * Runs `script` (this benchmark's compiled file URL) once per backend of --backends (default
 * defaultBackends), passing the other arguments on with `--backend <b> --json`. A backend that is not
 * available is reported, not fatal (tfjs-node needs `npm run setup:native`).
 */
export function runPerBackend<T>(script: string, argv: readonly string[] = process.argv.slice(2)): BackendRun<T>[] {
  const list = (option(argv, '--backends') ?? defaultBackends.join(',')).split(',').filter(Boolean);
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--backends') i++;
    else if (argv[i] !== '--json') rest.push(argv[i]!);
  }
  const runs: BackendRun<T>[] = [];
  for (const backend of list) {
    const before = loadavg()[0]!;
    process.stderr.write(`-- ${backend} (1-minute load average ${before.toFixed(2)})\n`);
    const r = spawnSync(process.execPath, [fileURLToPath(script), ...rest, '--backend', backend, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
    const load: [number, number] = [before, loadavg()[0]!];
    if (r.status === 0) {
      try {
        runs.push({ backend, result: JSON.parse(r.stdout) as T, load });
        continue;
      } catch {
        runs.push({ backend, error: `unreadable output: ${r.stdout.slice(0, 200)}`, load });
        continue;
      }
    }
    runs.push({ backend, error: `exit ${r.status ?? r.signal}${backend.startsWith('tfjs-node') ? ' (is it set up? npm run setup:native)' : ''}`, load });
  }
  return runs;
}
