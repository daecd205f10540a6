/**
 * `npm run bench`: forward throughput of our executor against onnxruntime-node (at its default threads)
 * in the same process, on the CNN and LM fixtures and ppocr-rec-v4, printed as ratios, with peak memory
 * and the machine's load average. Speed targets live here, not in timed unit tests. By default it runs
 * each backend of --backends (wasm,tfjs-node; bench/backends.ts) in its own process, one after the other,
 * and prints one table; --backend <name> measures one backend in this process. Options: --seconds <n>
 * per side and model (2), --rounds <n> alternating bursts the seconds are split into (4), --only
 * <cnn|lm|ppocr> (one model), (wasm threads: COMPRESS_THREADS, default every core, as onnxruntime uses),
 * --json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../src/onnx/index.js';
import type { BackendName } from '../src/runtime/backend.js';
import { Session } from '../src/runtime/session.js';
import { describeBackend, tf } from '../src/runtime/backend.js';
import { runPerBackend, singleBackend } from './backends.js';
import { arg, cases, rtensorFeeds } from './cases.js';

/** Accumulated runs and time of one side of a measurement. */
interface Tally {
  runs: number;
  ms: number;
}

/** Runs `fn` for about `ms` milliseconds (at least once), adding to `tally`. */
async function burst(fn: () => Promise<void>, ms: number, tally: Tally): Promise<void> {
  const t0 = performance.now();
  let now = t0;
  do {
    await fn();
    tally.runs++;
    now = performance.now();
  } while (now - t0 < ms);
  tally.ms += now - t0;
}

/**
 * Throughput of `ours` and `ref` (runs per second), after one warm-up run each, measured in `rounds`
 * alternating bursts of `seconds / rounds` per side: the machine is shared, and a change of load
 * between two long back-to-back measurements would skew their ratio.
 */
async function interleaved(ours: () => Promise<void>, ref: () => Promise<void>, seconds: number, rounds: number): Promise<{ ours: number; ref: number }> {
  await ref();
  await ours();
  const a: Tally = { runs: 0, ms: 0 };
  const b: Tally = { runs: 0, ms: 0 };
  const slice = (seconds * 1000) / rounds;
  for (let r = 0; r < rounds; r++) {
    await burst(ref, slice, b);
    await burst(ours, slice, a);
  }
  return { ours: a.runs / (a.ms / 1000), ref: b.runs / (b.ms / 1000) };
}

/** One backend's measurements (what a child process prints with --json). */
interface Measured {
  rows: Record<string, unknown>[];
  peakRssMB: number;
  loadAverage: number[];
}

async function measure(backend: BackendName): Promise<Measured> {
  const seconds = Number(arg('--seconds', '2'));
  const rounds = Math.max(1, Math.round(Number(arg('--rounds', '4'))));
  const loadBefore = loadavg()[0]!;
  const rows: Record<string, unknown>[] = [];
  let peakRss = process.memoryUsage().rss;
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 20);
  const only = arg('--only', '');
  try {
    for (const c of cases) {
      if (only && c.key !== only) continue;
      if (!existsSync(c.path)) {
        console.error(`skipping ${c.name}: ${c.path} is missing (run npm run fetch-models)`);
        continue;
      }
      const feeds = c.inputs();
      const ortSession = await ort.InferenceSession.create(readFileSync(c.path));
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(v.type, v.data, v.dims);
      const model = await loadModel(c.path);
      const session = await Session.create(model, { backend });
      const rfeeds = rtensorFeeds(feeds);
      const before = tf.memory().numBytes;
      const speed = await interleaved(
        async () => {
          const out = session.runSync(rfeeds);
          for (const t of out.values()) {
            t.host();
            t.dispose();
          }
          sample();
        },
        async () => {
          await ortSession.run(ortFeeds);
        },
        seconds,
        rounds,
      );
      const leaked = tf.memory().numBytes - before;
      rows.push({
        model: c.name,
        backend: describeBackend(session.backend),
        oursPerSec: Number(speed.ours.toFixed(2)),
        ortPerSec: Number(speed.ref.toFixed(2)),
        ratio: Number((speed.ours / speed.ref).toFixed(3)),
        keptTfBytes: leaked,
      });
      session.dispose();
      await ortSession.release();
    }
  } finally {
    clearInterval(timer);
  }
  sample();
  const load = [loadBefore, loadavg()[0]!].map((l) => Number(l.toFixed(2)));
  return { rows, peakRssMB: Math.round(peakRss / 2 ** 20), loadAverage: load };
}

async function main(): Promise<void> {
  const rounds = Math.max(1, Math.round(Number(arg('--rounds', '4'))));
  const json = process.argv.includes('--json');
  const one = singleBackend();
  if (one !== undefined) {
    const m = await measure(one as BackendName);
    if (json) {
      console.log(JSON.stringify(m, null, 2));
    } else {
      console.table(m.rows);
      console.log(`peak RSS: ${m.peakRssMB} MB; 1-minute load average ${m.loadAverage[0]} before, ${m.loadAverage[1]} after`);
      console.log(`ratio = our throughput / onnxruntime-node's (target >= 0.5), measured in ${rounds} alternating rounds`);
    }
    return;
  }
  const runs = runPerBackend<Measured>(import.meta.url);
  if (json) {
    console.log(JSON.stringify(runs, null, 2));
    return;
  }
  const rows = runs.flatMap((r): Record<string, unknown>[] => (r.result ? r.result.rows.map((row) => ({ ...row, peakRssMB: r.result!.peakRssMB })) : [{ backend: r.backend, error: r.error }]));
  console.table(rows);
  for (const r of runs) console.log(`${r.backend}: 1-minute load average ${r.load[0].toFixed(2)} before, ${r.load[1].toFixed(2)} after${r.result ? `; peak RSS ${r.result.peakRssMB} MB` : ''}`);
  console.log(`ratio = our throughput / onnxruntime-node's in the same process (target >= 0.5), measured in ${rounds} alternating rounds; one process per backend`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
