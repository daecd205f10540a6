/**
 * Executor builds against each other: `node dist/bench/compare.js <checkout> [<checkout> ...]` loads the
 * Session of each built checkout (its dist/src/runtime/session.js; they share this one's tfjs, so the same
 * backend runs them all: wasm, or --backend's) and runs the benchmark models round-robin, one run per build in turn, so
 * every build sees the same load. Prints the median CPU time (this process's, which other jobs on a shared
 * machine hardly disturb) and wall time per run, and each build's speed-up over the first. This is how
 * docs/performance.md attributes a gain to each change: one checkout per step.
 * Options: --runs <n> per build and model (20), --only <cnn|lm|ppocr>, --backend <name> (wasm; with
 * tfjs-node each build registers its own native kernels on first use, the last one's serving all).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadModel } from '../src/onnx/index.js';
import type { Session } from '../src/runtime/session.js';
import type { BackendName } from '../src/runtime/backend.js';
import { arg, cases, rtensorFeeds } from './cases.js';

type SessionClass = typeof Session;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const dirs = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--'));
  if (dirs.length === 0) throw new Error('usage: node dist/bench/compare.js <checkout> [<checkout> ...] [--runs n] [--only model] [--backend name]');
  const runs = Number(arg('--runs', '20'));
  const only = arg('--only', '');
  const backend = arg('--backend', 'wasm') as BackendName;
  const builds: { dir: string; Session: SessionClass }[] = [];
  for (const dir of dirs) {
    const file = resolve(dir, 'dist/src/runtime/session.js');
    if (!existsSync(file)) throw new Error(`${file} is missing: build that checkout first (npx tsc -p .)`);
    const mod = (await import(pathToFileURL(file).href)) as { Session: SessionClass };
    builds.push({ dir, Session: mod.Session });
  }
  for (const c of cases) {
    if ((only && c.key !== only) || !existsSync(c.path)) continue;
    const feeds = rtensorFeeds(c.inputs());
    // One after the other: each build initialises the (shared) tfjs backend on its first session.
    const sessions: Session[] = [];
    for (const b of builds) sessions.push(await b.Session.create(await loadModel(c.path), { backend }));
    const once = (s: Session): [number, number] => {
      const c0 = cpuMs();
      const w0 = performance.now();
      for (const t of s.runSync(feeds).values()) {
        t.host();
        t.dispose();
      }
      return [cpuMs() - c0, performance.now() - w0];
    };
    for (let i = 0; i < 2; i++) for (const s of sessions) once(s);
    const times = sessions.map(() => [] as [number, number][]);
    for (let i = 0; i < runs; i++) sessions.forEach((s, k) => times[k]!.push(once(s)));
    const cpu = times.map((t) => median(t.map((x) => x[0])));
    const wall = times.map((t) => median(t.map((x) => x[1])));
    console.log(`\n${c.name}: median per run over ${runs} runs each, builds run in turn`);
    console.table(builds.map((b, k) => ({ build: b.dir, cpuMs: Number(cpu[k]!.toFixed(1)), wallMs: Number(wall[k]!.toFixed(1)), speedUp: Number((cpu[0]! / cpu[k]!).toFixed(2)) })));
    for (const s of sessions) s.dispose();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
