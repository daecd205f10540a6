/**
 * `npm run bench`: forward throughput of our executor against onnxruntime-node in the same process, on
 * the CNN and LM fixtures and ppocr-rec-v4, printed as ratios, with peak memory. Speed targets live here,
 * not in timed unit tests. Options: --backend <name> (default auto), --seconds <n> per measurement (2),
 * (wasm threads: COMPRESS_THREADS, default every core, as onnxruntime uses),
 * --json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { DataType } from '../src/core/dtype.js';
import { mulberry32 } from '../src/core/random.js';
import { loadModel } from '../src/onnx/index.js';
import type { BackendName } from '../src/runtime/backend.js';
import { Session } from '../src/runtime/session.js';
import { RTensor } from '../src/runtime/value.js';
import { tf } from '../src/runtime/backend.js';

interface Case {
  name: string;
  path: string;
  inputs: () => Record<string, { type: 'float32' | 'int64'; data: Float32Array | BigInt64Array; dims: number[] }>;
}

/** The repository root: the nearest folder above this file holding package.json (works from any build dir). */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir + '/';
}
const root = findRoot();

const rng = mulberry32;

function floats(dims: number[], seed: number): Float32Array {
  const r = rng(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

const cases: Case[] = [
  { name: 'cnn fixture (batch 32)', path: `${root}fixtures/cnn/model.onnx`, inputs: () => ({ input: { type: 'float32', data: floats([32, 1, 28, 28], 1), dims: [32, 1, 28, 28] } }) },
  {
    name: 'lm fixture (batch 8 x 32 tokens)',
    path: `${root}fixtures/lm/model.onnx`,
    inputs: () => {
      const r = rng(2);
      return { input: { type: 'int64', data: BigInt64Array.from({ length: 8 * 32 }, () => BigInt(Math.floor(r() * 1000))), dims: [8, 32] } };
    },
  },
  { name: 'ppocr-rec-v4 (1x3x48x320)', path: `${root}.cache/models/ppocr-rec-v4.onnx`, inputs: () => ({ x: { type: 'float32', data: floats([1, 3, 48, 320], 3), dims: [1, 3, 48, 320] } }) },
];

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

/** Runs `fn` repeatedly for about `seconds` after one warm-up; returns runs per second. */
async function throughput(fn: () => Promise<void>, seconds: number): Promise<{ perSecond: number; runs: number }> {
  await fn();
  let runs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000 || runs < 3) {
    await fn();
    runs++;
  }
  return { perSecond: runs / ((performance.now() - t0) / 1000), runs };
}

async function main(): Promise<void> {
  const backend = arg('--backend', 'auto') as BackendName;
  const seconds = Number(arg('--seconds', '2'));
  const rows: Record<string, unknown>[] = [];
  let peakRss = process.memoryUsage().rss;
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 20);
  for (const c of cases) {
    if (!existsSync(c.path)) {
      console.error(`skipping ${c.name}: ${c.path} is missing (run npm run fetch-models)`);
      continue;
    }
    const feeds = c.inputs();
    const ortSession = await ort.InferenceSession.create(readFileSync(c.path), { intraOpNumThreads: 2 });
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(v.type, v.data, v.dims);
    const ref = await throughput(async () => {
      await ortSession.run(ortFeeds);
    }, seconds);
    const model = await loadModel(c.path);
    const session = await Session.create(model, { backend });
    const rfeeds: Record<string, RTensor> = {};
    for (const [k, v] of Object.entries(feeds)) rfeeds[k] = RTensor.fromHost(v.type === 'int64' ? DataType.INT64 : DataType.FLOAT, v.dims, v.data);
    const before = tf.memory().numBytes;
    const ours = await throughput(async () => {
      const out = session.runSync(rfeeds);
      for (const t of out.values()) {
        t.host();
        t.dispose();
      }
      sample();
    }, seconds);
    const leaked = tf.memory().numBytes - before;
    rows.push({
      model: c.name,
      backend: session.backend.threads !== undefined ? `${session.backend.name} x${session.backend.threads}` : session.backend.name,
      oursPerSec: Number(ours.perSecond.toFixed(2)),
      ortPerSec: Number(ref.perSecond.toFixed(2)),
      ratio: Number((ours.perSecond / ref.perSecond).toFixed(3)),
      keptTfBytes: leaked,
    });
    session.dispose();
    await ortSession.release();
  }
  clearInterval(timer);
  sample();
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ rows, peakRssMB: Math.round(peakRss / 2 ** 20) }, null, 2));
  } else {
    console.table(rows);
    console.log(`peak RSS: ${Math.round(peakRss / 2 ** 20)} MB; ratio = our throughput / onnxruntime-node's (target >= 0.5)`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
