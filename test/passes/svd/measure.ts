/**
 * The measurements of docs/svd.md (not a test: run it by hand after building):
 *   node dist/test/passes/svd/measure.js digits|mlp|lm|cnn|ppocr|bench ['[{"ratio":0.5}, ...]']
 * For each option set, plain then activation-aware SVD; prints a markdown row per run: parameters kept,
 * the task metric (accuracy, perplexity, or agreement with the float model) and the relative output error
 * measured in onnxruntime-node, and the pass's wall time.
 */
import { loadavg } from 'node:os';
import { DataType } from '../../../src/core/dtype.js';
import { noProgress, silentLogger } from '../../../src/core/logger.js';
import { readNpy, type HostArray } from '../../../src/calibration/readers/npy.js';
import { loadModel } from '../../../src/onnx/index.js';
import { svd } from '../../../src/passes/svd/index.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { gaussian, svdExact, svdRandomized } from '../../../src/tensor/svd.js';
import { accuracy, agreement, batches, outputsOf, perplexity, relErr2, rows } from './helpers.js';

type Output = { data: Float32Array; dims: number[] };
const ctx = { logger: silentLogger, progress: noProgress };
const out = (s: string) => process.stdout.write(s + '\n');

/** Layers left whole although svd could factorize them (kept by the options or by the target). */
const factorizable = /excluded by --exclude|output head kept|target is met|would not save|no rank saves|leaves no rank/;

/**
 * Parameters of the factorizable weight matrices (what --ratio and --budget count) before and after, from
 * the report's layers; layers svd cannot factorize (grouped convolutions, ...) are not counted.
 */
function weightsOf(layers: { params: number; paramsBefore?: unknown; skipped?: unknown }[]): { before: number; after: number } {
  let before = 0;
  let after = 0;
  for (const l of layers) {
    if (typeof l.skipped === 'string' && !factorizable.test(l.skipped)) continue;
    before += l.skipped !== undefined ? l.params : Number(l.paramsBefore);
    after += l.params;
  }
  return { before, after };
}

async function run(path: string, input: string, calib: HostArray, test: HostArray, metric: (o: Output, ref: Output) => number, optsList: Record<string, unknown>[], bs: number): Promise<void> {
  const base = await loadModel(path);
  const ref = await outputsOf(base, input, test, bs);
  out(`${path}: float metric ${metric(ref, ref).toFixed(4)} (load average ${loadavg().map((x) => x.toFixed(1)).join(' ')})`);
  out('| options | mode | weights kept | metric | output error | pass time |');
  out('|---|---|---|---|---|---|');
  for (const opts of optsList) {
    const modes = opts.plainOnly ? [false] : opts.awareOnly ? [true] : [false, true];
    const { plainOnly: _p, awareOnly: _a, ...options } = opts;
    for (const aware of modes) {
      const m = await loadModel(path);
      const t = Date.now();
      const r = await svd(m, options, aware ? { ...ctx, data: batches(calib, input, bs) } : ctx);
      const dt = Date.now() - t;
      const o = await outputsOf(m, input, test, bs);
      const w = weightsOf(r.layers);
      out(`| \`${JSON.stringify(options)}\` | ${aware ? 'aware' : 'plain'} | ${w.after} / ${w.before} (${(w.after / w.before).toFixed(3)}) | ${metric(o, ref).toFixed(4)} | ${relErr2(o.data, ref.data).toExponential(2)} | ${(dt / 1000).toFixed(1)} s |`);
      out(`|  | ranks | ${r.layers.filter((l) => l.rank !== undefined).map((l) => `${l.name}: ${l.factorization === 'matrix' ? '' : `${String(l.factorization)} `}r${l.rank}`).join(', ')} | | | |`);
    }
  }
}

const which = process.argv[2];
const custom = process.argv[3] ? (JSON.parse(process.argv[3]) as Record<string, unknown>[]) : undefined;
if (which === 'mlp' || which === 'cnn' || which === 'digits') {
  const d = `fixtures/${which}/data`;
  const y = readNpy(`${d}/test_y.npy`).data as ArrayLike<number | bigint>;
  const dflt = which === 'cnn' ? [{ ratio: 0.5 }, { energy: 0.9 }, { budget: 15000 }] : [{ ratio: 0.25 }, { ratio: 0.16 }, { ratio: 0.1 }];
  await run(`fixtures/${which}/model.onnx`, 'input', readNpy(`${d}/calib_x.npy`), readNpy(`${d}/test_x.npy`), (o) => accuracy(o.data, o.dims[1]!, y), custom ?? dflt, 250);
} else if (which === 'lm') {
  const d = 'fixtures/lm/data';
  const tx = readNpy(`${d}/test_x.npy`);
  await run('fixtures/lm/model.onnx', 'input', readNpy(`${d}/calib_x.npy`), tx, (o) => perplexity(o.data, o.dims, tx.data as BigInt64Array), custom ?? [{ ratio: 0.5, exclude: 'head' }, { ratio: 0.5 }, { budget: 600000 }], 64);
} else if (which === 'ppocr') {
  const a = readNpy('test/passes/quantize/data/text_lines.npy');
  const [n, h, w] = a.shape as [number, number, number];
  const x = new Float32Array(n * 3 * h * w);
  const src = a.data as Uint8Array;
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) for (let p = 0; p < h * w; p++) x[(i * 3 + c) * h * w + p] = (src[i * h * w + p]! / 255 - 0.5) / 0.5;
  const lines: HostArray = { dataType: DataType.FLOAT, shape: [n, 3, h, w], data: x };
  const ex = '^(?!p2o\\.MatMul\\.24$)';
  const dflt = [16, 24, 32].map((rank) => ({ rank, exclude: ex, keepHead: false })).concat([{ ratio: 0.5, perLayer: true, exclude: ex, keepHead: false } as never]);
  await run('.cache/models/ppocr-rec-v4.onnx', 'x', rows(lines, 0, 24), rows(lines, 24, 48), (o, ref) => agreement(o.data, ref.data, 6625), custom ?? dflt, 8);
} else if (which === 'bench') {
  await initBackend('auto');
  const g = gaussian(1);
  out('| matrix | svdExact | svdRandomized, rank 32 |');
  out('|---|---|---|');
  for (const [m, n] of [[128, 128], [512, 128], [784, 256], [120, 6625], [512, 512]] as const) {
    const a = Float64Array.from({ length: m * n }, () => g());
    let c = process.cpuUsage();
    svdExact(a, m, n);
    const e = process.cpuUsage(c).user / 1000;
    c = process.cpuUsage();
    svdRandomized(a, m, n, 32, { seed: 1 });
    const r = process.cpuUsage(c).user / 1000;
    out(`| ${m} x ${n} | ${e.toFixed(0)} ms | ${r.toFixed(0)} ms |`);
  }
} else {
  out('usage: node dist/test/passes/svd/measure.js digits|mlp|lm|cnn|ppocr|bench [options JSON list]');
}
