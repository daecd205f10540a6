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
 * 4. With --llm [DIR]: GPTQ at billion scale (issue 14 item 5, docs/gptq.md). DIR holds a Llama-shaped
 *    dynamo export (default $COMPRESS_MODELS/tinyllama4-fp32, COMPRESS_MODELS defaulting to /work/models:
 *    the 1.1 B TinyLlama shape cut to 4 decoder layers, 1.2 GB of float32); when it is missing,
 *    bench/make_llm.py makes it with the python of --python (default /work/venv/py/bin/python). It is
 *    calibrated on --samples x --seq random token ids (default 16 x 512: timing only, random ids say
 *    nothing about accuracy), 4 bits, group 128. Each block's time is set against its arithmetic floor,
 *    measured in the same run: the block's FLOPs (Hessians 2 n sum(K^2) over its distinct inputs, two
 *    forwards 2 (2 n params + 4 n seq d), the solves sum(2 K^3 / 3) + sum(K^2 N)) divided by the matmul
 *    rate of the backend, timed before the first block and after every block (the mean of the two
 *    around a block). Prints per-block wall and CPU seconds, the floor, the ratio, the peak RSS and the
 *    extrapolation to the 22 blocks of the full model.
 * 5. With --cnn: GPTQ on Conv (issue 15 item 3) against `quantize --bits 4 --weight-only` at the same group
 *    size (--group-size, default 128; Convs, the first one and the output head at 8 bits per channel in
 *    both, as quantize's policy says), bytes and quality: the CNN fixture (accuracy on its 1000 test
 *    images, calibrated on its 256 calibration images), ppocr-rec-v4 (character accuracy on printed
 *    English text lines, 1 - edit distance / length, against the texts: test/helpers/text-lines.ts's
 *    nlp-corpus lines, scored on --rec-lines lines (1000) from line 128 on, the scored lines of
 *    `bench:calib --calib 64 --sets 2`; calibrated on the first --rec-calib lines (32)) and ppocr-det-v4
 *    (F1 of its text map, thresholded at 0.3 as DBNet's post-processing does, against the float model's;
 *    calibrated on the first 8 pages, scored on the rest). The pages are made by bench/make_ocr_data.py
 *    into --ocr-data DIR (default .cache/ocr-data).
 *
 * Wall and CPU seconds are both printed (CPU / wall > 1 means threads ran in parallel; on a shared
 * machine wall time also counts waiting). Options: --skip-weights, --skip-lm, --json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { readNpy, type HostArray } from '../src/calibration/readers/npy.js';
import { serializeModel } from '../src/onnx/index.js';
import { parseQuantizeOptions, quantize } from '../src/passes/quantize/index.js';
import type { LayerReport } from '../src/report/schema.js';
import { rows } from '../test/helpers/data.js';
import { accuracy, logitsOf } from '../test/passes/quantize/quality.js';
import { charAccuracy as textCharAccuracy, recognize, renderedTextLines, textLineBatches } from '../test/helpers/text-lines.js';
import { DataType } from '../src/core/dtype.js';
import { noProgress, silentLogger, type Context, type Logger, type Progress } from '../src/core/logger.js';
import { createHessian } from '../src/calibration/accumulators/index.js';
import { openDataset } from '../src/calibration/readers/index.js';
import { loadModel } from '../src/onnx/index.js';
import { gptq, parseGptqOptions } from '../src/passes/gptq/index.js';
import { gptqQuantize } from '../src/passes/gptq/solve.js';
import { describeBackend, initBackend, tf, type BackendInfo, type BackendName } from '../src/runtime/backend.js';
import { findBlocks, findLinearLayers, type LinearLayer } from '../src/calibration/sequential.js';
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

/** Seconds of `f` on the wall and on the CPU (every thread of the process). */
function clocked<T>(f: () => T): { value: T; wall: number; cpu: number } {
  const t0 = performance.now();
  const c0 = cpuSeconds();
  const value = f();
  return { value, wall: (performance.now() - t0) / 1000, cpu: cpuSeconds() - c0 };
}

/**
 * The matmul rate the backend reaches now: [2048 x 2048] x [2048 x 1024] products (8.6 GFLOP each),
 * repeated for at least `minSeconds`, in FLOP per wall second and per CPU second.
 */
function matmulRate(minSeconds = 2): { wall: number; cpu: number } {
  const a = tf.randomUniform([2048, 2048]);
  const b = tf.randomUniform([2048, 1024]);
  // Read back outside tf.tidy: tidy walks a returned typed array element by element.
  const product = () => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  };
  product();
  let flops = 0;
  let wall = 0;
  let cpu = 0;
  while (wall < minSeconds) {
    const r = clocked(product);
    flops += 2 * 2048 * 2048 * 1024;
    wall += r.wall;
    cpu += r.cpu;
  }
  a.dispose();
  b.dispose();
  return { wall: flops / wall, cpu: flops / cpu };
}

/**
 * The arithmetic floor of one decoder block in FLOPs (issue 14 item 5): Hessians 2 n sum(K^2) over its
 * distinct inputs, two forwards of the block (2 n params, plus attention's two products 4 n seq d), and
 * the solves (Cholesky and triangular inverse of each distinct Hessian, 2 K^3 / 3, and GPTQ's updates
 * K^2 N per layer). n: calibration tokens; d: the block's width (its first layer's K). The last block
 * runs no propagating forward, and a last block of one layer (the head) none at all: its Hessian needs
 * only its input, so `forwards` is 2, 1 or 0.
 */
function blockFlops(layers: readonly LinearLayer[], tokens: number, seq: number, forwards = 2): { hessian: number; forward: number; solve: number; total: number } {
  const inputs = new Map<unknown, number>();
  for (const l of layers) inputs.set(l.input, l.K);
  let hessian = 0;
  let factor = 0;
  for (const K of inputs.values()) {
    hessian += 2 * tokens * K * K;
    factor += (2 * K ** 3) / 3;
  }
  const params = layers.reduce((a, l) => a + l.K * l.N, 0);
  const attention = layers.length > 1 ? 4 * tokens * seq * layers[0]!.K : 0;
  const forward = forwards * (2 * tokens * params + attention);
  const solve = factor + layers.reduce((a, l) => a + l.K * l.K * l.N, 0);
  return { hessian, forward, solve, total: hessian + forward + solve };
}

/** The Llama-shaped export to calibrate: DIR, made by bench/make_llm.py when missing. */
function llmModel(dir: string): string {
  const path = join(dir, 'model.onnx');
  if (existsSync(path)) return path;
  const python = arg('--python', '/work/venv/py/bin/python')!;
  out(`${path} is missing: making it with ${python} bench/make_llm.py --shape tinyllama4 --dtype fp32 (1-3 minutes)`);
  mkdirSync(dir, { recursive: true });
  execFileSync(python, [join(repoRoot(), 'bench', 'make_llm.py'), '--shape', 'tinyllama4', '--dtype', 'fp32', '--out', dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  return path;
}

/** GPTQ on a Llama-shaped decoder: per-block time against its arithmetic floor (see the file comment). */
async function llm(dir: string, results: Record<string, unknown>[]): Promise<void> {
  const path = llmModel(dir);
  const samples = Number(arg('--samples', '16'));
  const seq = Number(arg('--seq', '512'));
  const batchSize = Number(arg('--batch-size', '16'));
  const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');
  const model = await loadModel(path);
  const vocab = Number(arg('--vocab', '32000'));
  const rnd = mulberry32(1);
  const ids = BigInt64Array.from({ length: samples * seq }, () => BigInt(Math.floor(rnd() * vocab)));
  const input = model.graph.inputs.find((v) => !v.initializer)!.name;
  const data = {
    *[Symbol.iterator]() {
      for (let s = 0; s < samples; s += batchSize) {
        const n = Math.min(batchSize, samples - s);
        yield { [input]: RTensor.fromHost(DataType.INT64, [n, seq], ids.slice(s * seq, (s + n) * seq)) };
      }
    },
  };
  const rates: { wall: number; cpu: number }[] = [];
  const measureRate = () => {
    const r = matmulRate();
    rates.push(r);
    out(`  matmul rate ${(r.wall / 1e9).toFixed(1)} GFLOP/s (${(r.cpu / 1e9).toFixed(1)} per CPU second); load average ${load()}`);
  };
  out(`${path}: gptq 4 bits, group 128, ${samples} x ${seq} random token ids in batches of ${batchSize}; load average ${load()}`);
  measureRate();
  const blocks: { name: string; wall: number; cpu: number; rateBefore: number; rateCpuBefore: number }[] = [];
  const progress: Progress = {
    start(name: string) {
      const t0 = performance.now();
      const c0 = cpuSeconds();
      const rate = rates[rates.length - 1]!;
      return {
        tick() {},
        setTotal() {},
        done() {
          blocks.push({ name, wall: (performance.now() - t0) / 1000, cpu: cpuSeconds() - c0, rateBefore: rate.wall, rateCpuBefore: rate.cpu });
          out(`  ${name}: ${blocks[blocks.length - 1]!.wall.toFixed(1)} s wall, ${blocks[blocks.length - 1]!.cpu.toFixed(1)} s CPU`);
          measureRate();
        },
      };
    },
  };
  const logger: Logger = { ...silentLogger, debug: argv.includes('--verbose') ? (m: string) => out(`  ${m}`) : () => {} };
  // The blocks as the pass will find them (before it rewrites the model).
  const byBlock = findBlocks(findLinearLayers(model).layers);
  const t0 = performance.now();
  const r = await gptq(model, parseGptqOptions({ bits: 4, groupSize: 128 }), { logger, progress, data });
  const total = (performance.now() - t0) / 1000;
  const tokens = samples * seq;
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i]!;
    const layerBlock = byBlock[i]!;
    const last = i === blocks.length - 1;
    const f = blockFlops(layerBlock.layers, tokens, seq, last ? (layerBlock.layers.length > 1 ? 1 : 0) : 2);
    // The rate around the block: measured before it and after it.
    const rateWall = (b.rateBefore + rates[i + 1]!.wall) / 2;
    const rateCpu = (b.rateCpuBefore + rates[i + 1]!.cpu) / 2;
    const floorWall = f.total / rateWall;
    const floorCpu = f.total / rateCpu;
    const t = r.timing?.perBlock[i];
    rows.push({ block: b.name, layers: layerBlock.layers.length, gflop: f.total / 1e9, hessianGflop: f.hessian / 1e9, forwardGflop: f.forward / 1e9, solveGflop: f.solve / 1e9, wall: b.wall, cpu: b.cpu, floorWall, floorCpu, ratioWall: b.wall / floorWall, ratioCpu: b.cpu / floorCpu, phases: t });
    out(
      `  ${b.name}: ${(f.total / 1e9).toFixed(0)} GFLOP (Hessians ${(f.hessian / 1e9).toFixed(0)}, forwards ${(f.forward / 1e9).toFixed(0)}, solves ${(f.solve / 1e9).toFixed(0)}); ` +
        `${b.wall.toFixed(1)} s wall against a floor of ${floorWall.toFixed(1)} s (x${(b.wall / floorWall).toFixed(2)}); ${b.cpu.toFixed(1)} s CPU against ${floorCpu.toFixed(1)} (x${(b.cpu / floorCpu).toFixed(2)})` +
        (t ? `; statistics ${t.statistics.toFixed(1)} s (${t.cpu.statistics.toFixed(1)} CPU), GPTQ ${t.compress.toFixed(1)} s (${t.cpu.compress.toFixed(1)} CPU), next inputs ${t.propagate.toFixed(1)} s (${t.cpu.propagate.toFixed(1)} CPU)` : ''),
    );
  }
  const rss = process.resourceUsage().maxRSS * 1024;
  const decoder = rows.filter((x) => (x.layers as number) > 1);
  const mean = decoder.reduce((a, x) => a + (x.wall as number), 0) / Math.max(1, decoder.length);
  const rest = total - decoder.reduce((a, x) => a + (x.wall as number), 0);
  out(`${path}: ${r.layers.length} layers in ${total.toFixed(1)} s; peak RSS ${(rss / 2 ** 30).toFixed(2)} GiB (this process: no other is started); ${decoder.length} decoder blocks, mean ${mean.toFixed(1)} s: 22 blocks would take ${((22 * mean + rest) / 60).toFixed(1)} min (+ ${rest.toFixed(0)} s for the rest, as here)`);
  results.push({ what: 'llm', model: path, samples, seq, total, peakRss: rss, blocks: rows, rates, loadavg: loadavg() });
}

/**
 * ppocr-rec-v4 scores the rendered lines from this one on (test/helpers/text-lines.ts, seed 1) and
 * calibrates on lines before it: the same scored lines as `npm run bench:calib -- --calib 64 --sets 2`, whose
 * two calibration sets are lines 0-127, so the float and quantize rows of both benches agree.
 */
const RECOFFSET = 128;

/** F1 of two maps thresholded at `t` (the text pixels both find, against those either finds). */
function mapF1(a: Float32Array, b: Float32Array, t = 0.3): number {
  let both = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! > t;
    const y = b[i]! > t;
    if (x) na++;
    if (y) nb++;
    if (x && y) both++;
  }
  return na + nb === 0 ? 1 : (2 * both) / (na + nb);
}

/** Feed batches of the rows [start, end) of `x` for `input`. */
function feedsOf(x: HostArray, input: string, start: number, end: number, batch: number): Iterable<Record<string, RTensor>> {
  return {
    *[Symbol.iterator]() {
      for (let s = start; s < end; s += batch) {
        const r = rows(x, s, Math.min(end, s + batch));
        yield { [input]: RTensor.fromHost(r.dataType, r.shape, r.data) };
      }
    },
  };
}

/** GPTQ on Conv against quantize's weight-only RTN at the same bits and group size (see the file comment). */
async function convs(results: Record<string, unknown>[]): Promise<void> {
  const groupSize = Number(arg('--group-size', '128'));
  const root = repoRoot();
  const ctx = { logger: silentLogger, progress: noProgress };
  const dataDir = arg('--ocr-data', join(root, '.cache', 'ocr-data'))!;
  if (!existsSync(join(dataDir, 'det_x.npy'))) throw new Error(`${dataDir}/det_x.npy is missing: make it with bench/make_ocr_data.py --out ${dataDir} (see its docstring)`);
  const recScored = Number(arg('--rec-lines', '1000'));
  const recCalib = Number(arg('--rec-calib', '32'));
  if (!(recCalib > 0 && recCalib <= RECOFFSET)) throw new Error(`--rec-calib must be 1 to ${RECOFFSET}`);
  const lines = renderedTextLines(RECOFFSET + recScored, 1);
  const detX = readNpy(join(dataDir, 'det_x.npy'));
  const cnnDir = join(root, 'fixtures', 'cnn');
  const cnnTest = readNpy(join(cnnDir, 'data', 'test_x.npy'));
  const cnnLabels = readNpy(join(cnnDir, 'data', 'test_y.npy')).data as BigInt64Array;
  const cases = [
    {
      name: 'cnn fixture',
      path: join(cnnDir, 'model.onnx'),
      input: 'input',
      calib: feedsOf(readNpy(join(cnnDir, 'data', 'calib_x.npy')), 'input', 0, 256, 32),
      metric: 'accuracy',
      score: async (bytes: Uint8Array) => accuracy((await logitsOf(bytes, 'input', cnnTest, 100)).data, 10, cnnLabels),
    },
    {
      name: `ppocr-rec-v4 (${recScored} lines)`,
      path: join(root, '.cache', 'models', 'ppocr-rec-v4.onnx'),
      input: 'x',
      calib: textLineBatches(lines, 0, recCalib, 8).map((b) => ({ x: RTensor.fromHost(b.x.dataType, b.x.shape, b.x.data) })),
      metric: 'char accuracy',
      score: async (bytes: Uint8Array) => textCharAccuracy(await recognize(bytes, lines, RECOFFSET, RECOFFSET + recScored), lines.texts.slice(RECOFFSET, RECOFFSET + recScored)),
    },
    {
      name: 'ppocr-det-v4',
      path: join(root, '.cache', 'models', 'ppocr-det-v4.onnx'),
      input: 'x',
      calib: feedsOf(detX, 'x', 0, 8, 4),
      metric: 'text-map F1 vs float',
      score: undefined as ((bytes: Uint8Array) => Promise<number>) | undefined,
    },
  ];
  for (const c of cases) {
    if (!existsSync(c.path)) throw new Error(`${c.path} is missing: run node scripts/fetch-models.mjs`);
    const original = readFileSync(c.path);
    let score = c.score;
    if (!score) {
      const evalX = rows(detX, 8, detX.shape[0]!);
      const ref = (await logitsOf(original, c.input, evalX, 4)).data;
      score = async (bytes: Uint8Array) => mapF1((await logitsOf(bytes, c.input, evalX, 4)).data, ref);
    }
    const rowsOut: Record<string, unknown>[] = [];
    for (const method of ['float', 'quantize', 'gptq'] as const) {
      const model = await loadModel(c.path);
      const t0 = performance.now();
      let layers: LayerReport[] = [];
      if (method === 'quantize') layers = (await quantize(model, parseQuantizeOptions({ bits: 4, weightOnly: true, groupSize }), ctx)).layers;
      if (method === 'gptq') layers = (await gptq(model, parseGptqOptions({ bits: 4, groupSize }), { ...ctx, data: c.calib })).layers;
      const seconds = (performance.now() - t0) / 1000;
      const bytes = method === 'float' ? new Uint8Array(original) : serializeModel(model);
      const value = await score(bytes);
      const convLayers = layers.filter((l) => l.op === 'Conv');
      const row = { what: `${c.name} ${method}`, model: c.name, method, bytes: bytes.length, metric: c.metric, value, seconds, convs: convLayers.length, convsGptq: convLayers.filter((l) => l.method === 'gptq').length };
      rowsOut.push(row);
      results.push(row);
    }
    const [f, q, g] = rowsOut as { bytes: number; value: number; convs: number; convsGptq: number; seconds: number }[];
    out(
      `${c.name} (${c.metric}): float ${f!.value.toFixed(4)} (${f!.bytes} B); quantize --bits 4 --weight-only --group-size ${groupSize}: ${q!.value.toFixed(4)} (${q!.bytes} B, ${q!.seconds.toFixed(1)} s); ` +
        `gptq: ${g!.value.toFixed(4)} (${g!.bytes} B = ${(g!.bytes / q!.bytes).toFixed(4)}x quantize's, ${g!.seconds.toFixed(1)} s; ${g!.convsGptq} of ${g!.convs} Convs through GPTQ); gptq - quantize ${((g!.value - q!.value) * 100).toFixed(2)} points`,
    );
  }
}

/** One backend's results (what a child process prints with --json). */
interface GptqRun {
  backend: BackendInfo;
  results: Record<string, unknown>[];
}

/** The time a result row stands for: the whole pass (a model, the LLM, one method on a CNN), or the Hessian (scaled to 65536 tokens) and solve. */
function seconds(r: Record<string, unknown>): number {
  if (typeof r.wall === 'number') return r.wall;
  if (typeof r.total === 'number') return r.total;
  if (typeof r.seconds === 'number') return r.seconds;
  return (r.hessianWallFor65536 as number) + (r.solveWall as number);
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
  if (argv.includes('--cnn')) await convs(results);
  if (argv.includes('--llm')) {
    const i = argv.indexOf('--llm');
    const given = argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--') ? argv[i + 1]! : undefined;
    await llm(given ?? join(process.env.COMPRESS_MODELS ?? '/work/models', 'tinyllama4-fp32'), results);
  }
  if (argv.includes('--json')) process.stdout.write(JSON.stringify({ backend: info, results }, null, 2) + '\n');
}

await main();
