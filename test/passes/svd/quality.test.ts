/**
 * Activation-aware against plain SVD at the same parameter count, on the fixture MLP (accuracy on
 * test_x/test_y) and LM (perplexity of next-token predictions on test_x), measured in onnxruntime-node.
 * Numbers are recorded in docs/svd.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noProgress, silentLogger } from '../../../src/core/logger.js';
import { readNpy, type HostArray } from '../../../src/calibration/readers/npy.js';
import { loadModel } from '../../../src/onnx/index.js';
import { svd } from '../../../src/passes/svd/index.js';
import { accuracy, batches, outputsOf, perplexity, relErr2, rows } from './helpers.js';

const ctx = { logger: silentLogger, progress: noProgress };

async function compare(dir: string, options: Record<string, unknown>, calib: HostArray, test: HostArray, metric: (o: { data: Float32Array; dims: number[] }) => number) {
  const path = `fixtures/${dir}/model.onnx`;
  const base = await loadModel(path);
  const input = base.graph.inputs[0]!.name;
  const ref = await outputsOf(base, input, test);
  const res = [];
  for (const aware of [false, true]) {
    const m = await loadModel(path);
    const r = await svd(m, options, aware ? { ...ctx, data: batches(calib, input, 128) } : ctx);
    const o = await outputsOf(m, input, test);
    const params = m.graph.initializers.reduce((s, v) => s + v.initializer!.size, 0);
    res.push({ params, metric: metric(o), error: relErr2(o.data, ref.data), layers: r.layers });
  }
  return { float: metric(ref), plain: res[0]!, aware: res[1]! };
}

test('fixtures/mlp, --per-layer --ratio 0.3 (head kept): activation-aware beats plain SVD in output error and accuracy', async () => {
  const dir = 'fixtures/mlp/data';
  const labels = readNpy(`${dir}/test_y.npy`).data as ArrayLike<number | bigint>;
  const r = await compare('mlp', { ratio: 0.3, perLayer: true }, readNpy(`${dir}/calib_x.npy`), readNpy(`${dir}/test_x.npy`), (o) => accuracy(o.data, o.dims[1]!, labels));
  assert.equal(r.aware.params, r.plain.params);
  assert.ok(r.aware.params < 0.32 * 235146, `params ${r.aware.params}`);
  assert.ok(r.aware.error < r.plain.error / 2, `output error aware ${r.aware.error} vs plain ${r.plain.error}`);
  assert.ok(r.aware.metric > r.plain.metric, `accuracy aware ${r.aware.metric} vs plain ${r.plain.metric}`);
  assert.ok(r.aware.metric > r.float - 0.05, `accuracy aware ${r.aware.metric} vs float ${r.float}`);
});

test('fixtures/lm, --per-layer --ratio 0.5 on the blocks (head kept): activation-aware beats plain SVD in output error and perplexity', async () => {
  const dir = 'fixtures/lm/data';
  const testX = rows(readNpy(`${dir}/test_x.npy`), 0, 128);
  const calib = rows(readNpy(`${dir}/calib_x.npy`), 0, 64);
  const r = await compare('lm', { ratio: 0.5, perLayer: true }, calib, testX, (o) => perplexity(o.data, o.dims, testX.data as BigInt64Array));
  assert.equal(r.aware.params, r.plain.params);
  assert.ok(r.aware.error < r.plain.error / 2, `output error aware ${r.aware.error} vs plain ${r.plain.error}`);
  assert.ok(r.aware.metric < r.plain.metric, `perplexity aware ${r.aware.metric} vs plain ${r.plain.metric}`);
  assert.ok(r.aware.metric < r.float * 1.05, `perplexity aware ${r.aware.metric} vs float ${r.float}`);
});

/** Parameters of the factorizable weight matrices after the pass (the report's layers, kept ones included). */
function weights(layers: { params: number }[]): number {
  return layers.reduce((s, l) => s + l.params, 0);
}

test('fixtures/mlp, --budget 35000 parameters (15 %) --sensitivity layer with --data: within budget, ranks spread by the whitened errors', async () => {
  const dir = 'fixtures/mlp/data';
  const m = await loadModel('fixtures/mlp/model.onnx');
  const r = await svd(m, { budget: 35000, sensitivity: 'layer' }, { ...ctx, data: batches(readNpy(`${dir}/calib_x.npy`), 'input', 128) });
  const w = weights(r.layers);
  assert.ok(w <= 35000 && w > 34000, `weights ${w}`);
  assert.equal(r.plan.target?.sensitivity, 'layer');
  const o = await outputsOf(m, 'input', readNpy(`${dir}/test_x.npy`));
  const acc = accuracy(o.data, o.dims[1]!, readNpy(`${dir}/test_y.npy`).data as ArrayLike<number | bigint>);
  assert.ok(acc > 0.87, `accuracy ${acc} (float 0.89)`);
});

test('fixtures/digits (issue #15): --ratio 0.25 with --data keeps >= 0.95 accuracy at 0.25x the weights; the old per-layer rule with the head cut does not', async () => {
  const dir = 'fixtures/digits/data';
  const y = readNpy(`${dir}/test_y.npy`).data as ArrayLike<number | bigint>;
  const test = readNpy(`${dir}/test_x.npy`);
  const calib = readNpy(`${dir}/calib_x.npy`);
  const pool = 64 * 256 + 256 * 256 + 256 * 10;
  const m = await loadModel('fixtures/digits/model.onnx');
  const r = await svd(m, { ratio: 0.25 }, { ...ctx, data: batches(calib, 'input', 32) });
  assert.ok(weights(r.layers) <= 0.25 * pool, `weights ${weights(r.layers)}`);
  assert.equal(r.layers[2]!.skipped, 'output head kept (--no-keep-head to factorize it)');
  const o = await outputsOf(m, 'input', test);
  const acc = accuracy(o.data, 10, y);
  assert.ok(acc >= 0.95, `accuracy ${acc} (float 0.974)`);
  const old = await loadModel('fixtures/digits/model.onnx');
  const ro = await svd(old, { ratio: 0.5, perLayer: true, keepHead: false }, { ...ctx, data: batches(calib, 'input', 32) });
  assert.equal(ro.layers[2]!.rank, 4);
  const oo = await outputsOf(old, 'input', test);
  const accOld = accuracy(oo.data, 10, y);
  assert.ok(accOld < acc - 0.02, `per-layer 0.5 with the head cut: accuracy ${accOld}, whole-model 0.25: ${acc}`);
});

test('fixtures/digits, --ratio 0.16 --sensitivity model: ranks from the measured output errors keep >= 0.95 accuracy', async () => {
  const dir = 'fixtures/digits/data';
  const m = await loadModel('fixtures/digits/model.onnx');
  const r = await svd(m, { ratio: 0.16, sensitivity: 'model' }, { ...ctx, data: batches(readNpy(`${dir}/calib_x.npy`), 'input', 64) });
  assert.equal(r.plan.target?.sensitivity, 'model');
  assert.ok(weights(r.layers) <= 0.16 * (64 * 256 + 256 * 256 + 256 * 10));
  const o = await outputsOf(m, 'input', readNpy(`${dir}/test_x.npy`));
  const acc = accuracy(o.data, 10, readNpy(`${dir}/test_y.npy`).data as ArrayLike<number | bigint>);
  assert.ok(acc >= 0.95, `accuracy ${acc}`);
});
