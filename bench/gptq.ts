/**
 * `npm run bench:gptq`: GPTQ speed (issue 5, docs/gptq.md) on each backend of --backends (wasm and
 * tfjs-node by default, each in its own process: bench/backends.ts; threads from COMPRESS_THREADS,
 * default every core), then one table comparing them; --backend <name> runs one backend here.
 *
 * 1. The statistics and the solve of one 125M-decoder-sized weight: the Hessian of 128 x 512 calibration
 *    tokens accumulated in batches of 512 for a K = 768 input, then GPTQ (4 bits, group 128) on a 768 x 3072
 *    weight; the same for the K = 3072 down-projection (its Hessian measured on --tokens-3072 tokens,
 *    8192 by default, and scaled: accumulating X^T X is linear in the tokens; the output says so).
 * 2. The whole fixture LM through the gptq API (block by block, 256 calibration rows of 32 tokens).
 * 3. With --model <onnx> --data <npy>: the gptq API on that model (e.g. a 125M-shaped decoder made by
 *    bench/make_decoder.py), timing each block from the progress events.
 *
 * Wall and CPU seconds are both printed (CPU / wall > 1 means threads ran in parallel; on a shared
 * machine wall time also counts waiting). Options: --skip-weights, --skip-lm, --json.
 */
import { join } from 'node:path';
import { DataType } from '../src/core/dtype.js';
import { silentLogger, type Context, type Logger, type Progress } from '../src/core/logger.js';
import { createHessian } from '../src/calibration/accumulators/index.js';
import { openDataset } from '../src/calibration/readers/index.js';
import { loadModel } from '../src/onnx/index.js';
import { gptq, parseGptqOptions } from '../src/passes/gptq/index.js';
import { gptqQuantize } from '../src/passes/gptq/solve.js';
import { describeBackend, initBackend, type BackendInfo, type BackendName } from '../src/runtime/backend.js';
import { RTensor } from '../src/runtime/value.js';
import { mulberry32 } from '../src/core/random.js';
import { repoRoot } from '../test/helpers/repo.js';
import { correlatedInputs } from '../test/passes/gptq/helpers.js';
import { runPerBackend, singleBackend } from './backends.js';

const argv = process.argv.slice(2);
const arg = (name: string, dflt?: string) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
};
const out = (line: string) => process.stderr.write(line + '\n');
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Wall and CPU seconds of `f`. */
async function timed<T>(f: () => T | Promise<T>): Promise<{ value: T; wall: number; cpu: number }> {
  const t0 = performance.now();
  const c0 = cpuSeconds();
  const value = await f();
  return { value, wall: (performance.now() - t0) / 1000, cpu: cpuSeconds() - c0 };
}

async function weights(results: Record<string, unknown>[]): Promise<void> {
  const full = 128 * 512;
  const batch = 512;
  for (const [K, N, tokens] of [
    [768, 3072, Number(arg('--tokens-768', String(full)))],
    [3072, 768, Number(arg('--tokens-3072', '8192'))],
  ] as const) {
    const x = correlatedInputs(batch, K, K);
    const acc = createHessian(K);
    const hess = await timed(() => {
      for (let b = 0; b < tokens / batch; b++) {
        const t = RTensor.fromHost(DataType.FLOAT, [batch, K], x);
        acc.add(t, { K, transposed: false });
        t.dispose();
      }
      return acc.hessian();
    });
    acc.dispose();
    const rnd = mulberry32(7);
    const w = Float32Array.from({ length: K * N }, () => (rnd() - 0.5) * 0.1);
    const solve = await timed(() => gptqQuantize(w, K, N, hess.value, { bits: 4, symmetric: false, groupSize: 128, actOrder: false, damp: 0.01, blockSize: 128 }));
    const scale = full / tokens;
    results.push({ what: `W ${K}x${N}`, hessianTokens: tokens, hessianWall: hess.wall, hessianCpu: hess.cpu, hessianWallFor65536: hess.wall * scale, solveWall: solve.wall, solveCpu: solve.cpu });
    out(
      `W ${K}x${N}: Hessian of ${tokens} tokens ${hess.wall.toFixed(2)} s wall / ${hess.cpu.toFixed(2)} s CPU` +
        (scale !== 1 ? ` (x${scale} for ${full} tokens: ${(hess.wall * scale).toFixed(1)} s wall)` : '') +
        `; GPTQ solve ${solve.wall.toFixed(2)} s wall / ${solve.cpu.toFixed(2)} s CPU (error ${solve.value.error.toExponential(2)}, RTN ${solve.value.rtnError.toExponential(2)})`,
    );
  }
}

/** A Progress that records when each task (one per block) starts and ends. */
function blockClock(): { progress: Progress; blocks: { name: string; seconds: number }[] } {
  const blocks: { name: string; seconds: number }[] = [];
  const progress: Progress = {
    start(name: string) {
      const t0 = performance.now();
      return {
        tick() {},
        setTotal() {},
        done() {
          const seconds = (performance.now() - t0) / 1000;
          blocks.push({ name, seconds });
          out(`  ${name}: ${seconds.toFixed(1)} s`);
        },
      };
    },
  };
  return { progress, blocks };
}

async function wholeModel(label: string, modelPath: string, dataPath: string, samples: number | undefined, batchSize: number, results: Record<string, unknown>[]): Promise<void> {
  const model = await loadModel(modelPath);
  const dataset = openDataset(dataPath, model, { samples, seed: 0, logger: silentLogger });
  const data = {
    *[Symbol.iterator]() {
      for (const b of dataset.batches(batchSize)) yield b.feeds;
    },
  };
  const { progress, blocks } = blockClock();
  // The pass's debug lines carry its split of the time (forward passes against GPTQ solves).
  const logger: Logger = { ...silentLogger, debug: (m: string) => out(`  ${m}`) };
  const ctx: Context & { data: typeof data } = { logger, progress, data };
  out(`${label}: gptq 4 bits, group 128, ${dataset.samples} samples in batches of ${batchSize}`);
  const r = await timed(() => gptq(model, parseGptqOptions({ bits: 4, groupSize: 128 }), ctx));
  results.push({ what: label, samples: dataset.samples, wall: r.wall, cpu: r.cpu, layers: r.value.layers.length, blocks });
  out(`${label}: ${r.value.layers.length} layers in ${r.wall.toFixed(1)} s wall / ${r.cpu.toFixed(1)} s CPU`);
}

/** One backend's results (what a child process prints with --json). */
interface GptqRun {
  backend: BackendInfo;
  results: Record<string, unknown>[];
}

/** The time a result row stands for: the whole pass, or the Hessian (scaled to 65536 tokens) and solve. */
function seconds(r: Record<string, unknown>): number {
  return typeof r.wall === 'number' ? r.wall : (r.hessianWallFor65536 as number) + (r.solveWall as number);
}

async function main(): Promise<void> {
  const one = singleBackend();
  if (one === undefined) {
    const runs = runPerBackend<GptqRun>(import.meta.url);
    if (argv.includes('--json')) {
      process.stdout.write(JSON.stringify(runs, null, 2) + '\n');
      return;
    }
    const ok = runs.filter((r) => r.result);
    const whats = [...new Set(ok.flatMap((r) => r.result!.results.map((x) => String(x.what))))];
    const table = whats.map((what) => {
      const row: Record<string, unknown> = { what };
      for (const r of ok) {
        const x = r.result!.results.find((y) => y.what === what);
        if (x) row[`${describeBackend(r.result!.backend)} (s)`] = Number(seconds(x).toFixed(2));
      }
      return row;
    });
    console.table(table);
    for (const r of runs) console.log(`${r.backend}: ${r.error ?? 'ran'}; 1-minute load average ${r.load[0].toFixed(2)} before, ${r.load[1].toFixed(2)} after`);
    console.log('seconds: wall time; a weight row is its Hessian (scaled to 65536 tokens) plus its solve');
    return;
  }
  const info = await initBackend(one as BackendName);
  out(`backend ${describeBackend(info)}`);
  const results: Record<string, unknown>[] = [];
  if (!argv.includes('--skip-weights')) await weights(results);
  if (!argv.includes('--skip-lm')) {
    const lm = join(repoRoot(), 'fixtures', 'lm');
    await wholeModel('fixture LM', join(lm, 'model.onnx'), join(lm, 'data', 'calib_x.npy'), undefined, 32, results);
  }
  const model = arg('--model');
  if (model !== undefined) {
    const data = arg('--data');
    if (data === undefined) throw new Error('--model needs --data');
    const samples = arg('--samples');
    await wholeModel(model, model, data, samples === undefined ? undefined : Number(samples), Number(arg('--batch-size', '8')), results);
  }
  if (argv.includes('--json')) process.stdout.write(JSON.stringify({ backend: info, results }, null, 2) + '\n');
}

await main();
