/**
 * Runs a command as a child process and measures what a user would: wall seconds from spawn to exit, and
 * the peak memory of the whole process tree (the child and every process it starts, their resident sets
 * summed), sampled from /proc. Shared by the peer benchmarks (bench/peers.ts, bench/llm.ts), whose two
 * sides are a node process (ours, which may start workers) and a python process (theirs).
 *
 * A child killed by a signal (the kernel's OOM killer sends SIGKILL) or one that exits non-zero is a
 * result like any other, never an exception: the benchmark prints it in its table.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmdirSync } from 'node:fs';

/** The outcome of one measured run. */
export interface Measured {
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  /** The signal that ended it (e.g. SIGKILL from the OOM killer), or null. */
  signal: NodeJS.Signals | null;
  /** Wall seconds from spawn to exit. */
  seconds: number;
  /** Peak of the summed resident set of the process tree, in bytes (0 where /proc is absent). */
  peakRss: number;
  /** Samples taken (one every `intervalMs`). */
  samples: number;
  stdout: string;
  stderr: string;
  /** True when the run passed `timeoutSeconds` and was killed. */
  timedOut: boolean;
}

export interface MeasureOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Sampling period of /proc (default 50 ms). */
  intervalMs?: number;
  /** Kill the tree after this many seconds (default: no limit). */
  timeoutSeconds?: number;
  /** Called with each chunk of the child's stderr (e.g. to echo progress under --verbose). */
  onStderr?: (chunk: string) => void;
}

/** Parent pid of every live process, from /proc/<pid>/stat (the field after the parenthesised name). */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    const pid = Number(e);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, Number(rest[1]));
    } catch {
      // The process ended between readdir and read.
    }
  }
  return out;
}

/** `root` and all its descendants. */
export function processTree(root: number, ppid: Map<number, number> = parents()): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, parent] of ppid) {
    const list = children.get(parent);
    if (list) list.push(pid);
    else children.set(parent, [pid]);
  }
  const tree: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    tree.push(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return tree;
}

/** Resident set of one process in bytes (VmRSS), 0 when it is gone or has none (a zombie). */
export function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The summed resident set of `root`'s process tree now, in bytes. */
export function treeRss(root: number): number {
  let sum = 0;
  for (const pid of processTree(root)) sum += rssOf(pid);
  return sum;
}

/** Children of runMeasured still running, so that a benchmark stopped by a signal takes them down with it. */
const live = new Set<number>();

/** Kills every process tree runMeasured started and that still runs (children before parents). */
export function killLiveChildren(): void {
  for (const pid of live) for (const p of processTree(pid).reverse()) killQuietly(p);
}

/**
 * On SIGINT or SIGTERM, kills the measured children (their trees) before exiting with 128 + the signal's
 * number: a stopped benchmark leaves no quantizer running on a shared machine.
 */
export function killChildrenOnSignals(): void {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      killLiveChildren();
      process.exit(code);
    });
  }
}

/**
 * Runs `command args`, sampling its process tree's memory every `intervalMs` until it exits. Resolves
 * with the exit status, never rejects for a failing child (only when it cannot be started at all).
 */
export function runMeasured(command: string, args: readonly string[], options: MeasureOptions = {}): Promise<Measured> {
  const interval = options.intervalMs ?? 50;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peakRss = 0;
    let samples = 0;
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      options.onStderr?.(d);
    });
    if (child.pid !== undefined) live.add(child.pid);
    const sample = () => {
      if (child.pid === undefined) return;
      peakRss = Math.max(peakRss, treeRss(child.pid));
      samples++;
    };
    const timer = setInterval(sample, interval);
    const killer =
      options.timeoutSeconds === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            if (child.pid !== undefined) for (const pid of processTree(child.pid).reverse()) killQuietly(pid);
          }, options.timeoutSeconds * 1000);
    child.on('error', (e) => {
      clearInterval(timer);
      if (killer) clearTimeout(killer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (child.pid !== undefined) live.delete(child.pid);
      clearInterval(timer);
      if (killer) clearTimeout(killer);
      resolve({ code, signal, seconds: (performance.now() - t0) / 1000, peakRss, samples, stdout, stderr, timedOut });
    });
    sample();
  });
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** One line saying how a failed run ended: the signal (SIGKILL: likely the OOM killer), or the exit code and the last line of stderr. */
export function failureLine(m: Measured): string {
  if (m.timedOut) return `timed out after ${m.seconds.toFixed(0)} s`;
  if (m.signal) return m.signal === 'SIGKILL' ? `killed by SIGKILL (likely the OOM killer) at ${gb(m.peakRss)} GB` : `killed by ${m.signal}`;
  const last = lastMeaningfulLine(m.stderr);
  return `exit ${m.code}${last ? `: ${last}` : ''}`;
}

/**
 * The last non-empty stderr line that is not a progress bar, a python traceback frame or our CLI's closing
 * "hint:" line (the error it follows says more), cut to 160 characters.
 */
export function lastMeaningfulLine(text: string): string {
  const lines = text
    .split(/\r?\n|\r/)
    .map((l) => l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').trim())
    .filter((l) => l !== '' && !l.startsWith('File "') && !l.startsWith('hint:') && !(/\d+%/.test(l) && /[|█]/.test(l)));
  const last = lines[lines.length - 1] ?? '';
  return last.length > 160 ? last.slice(0, 157) + '...' : last;
}

const gb = (bytes: number) => (bytes / 1e9).toFixed(1);

/** Removes `dir` when it is empty (the parent of a finished run's own folder); leaves it otherwise. */
export function removeIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // Missing, or another run is using it: nothing to do.
  }
}
