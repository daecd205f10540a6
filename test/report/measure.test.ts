/**
 * The measuring step against numbers computed here, independently, from onnxruntime-node outputs on
 * the fixtures: the MLP's accuracy on its 1000 test samples, the LM's perplexity, a model's fidelity
 * against itself, and a compressed model onnxruntime cannot load.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { defaultContext } from '../../src/core/logger.js';
import { saveModel } from '../../src/onnx/index.js';
import { openModel } from '../../src/cli/commands/model-io.js';
import { measure, type MeasureOptions } from '../../src/report/measure.js';
import { tinyModel } from '../cli/helpers.js';
import { fixture, loadNpy, unloadableModel } from './helpers.js';
import { tempDir } from '../helpers/tmp.js';

const fast = { latency: { warmup: 1, runs: 3 } } satisfies Partial<MeasureOptions>;
const base = { task: 'auto', batchSize: 32, seed: 0, ...fast } as const;

let dir: string;
before(() => {
  dir = tempDir('compress-measure-');
});

test('MLP accuracy on test_x/test_y equals the accuracy computed from onnxruntime outputs here', async () => {
  const x = loadNpy(fixture('mlp', 'data', 'test_x.npy'));
  const y = loadNpy(fixture('mlp', 'data', 'test_y.npy')).data as BigInt64Array;
  const session = await ort.InferenceSession.create(fixture('mlp', 'model.onnx'));
  const out = await session.run({ input: new ort.Tensor('float32', x.data as Float32Array, x.shape) });
  const logits = out.logits!.data as Float32Array;
  let correct = 0;
  for (let i = 0; i < y.length; i++) {
    const row = Array.from(logits.subarray(i * 10, i * 10 + 10));
    if (row.indexOf(Math.max(...row)) === Number(y[i])) correct++;
  }
  const expected = correct / y.length;

  const model = await openModel(fixture('mlp', 'model.onnx'));
  const m = await measure(model, undefined, { ...base, data: fixture('mlp', 'data', 'test_x.npy'), labels: fixture('mlp', 'data', 'test_y.npy'), batchSize: 64 }, defaultContext);
  assert.equal(m.metrics.task, 'classification');
  assert.equal(m.metrics.samples, 1000);
  assert.equal(m.metrics.original!.accuracy, expected);
  assert.equal(expected, 0.89, 'fixtures/metrics.json records 0.89 (PyTorch) for the MLP on these 1000 samples');
  assert.equal(m.fidelity, undefined, 'one model: nothing to compare');
  assert.equal(m.runtime!.loaded, true);
  assert.equal(m.runtime!.version, ort.env.versions.node);
  const lat = m.runtime!.latencyMs!.original!;
  assert.ok(lat.p50 > 0 && lat.p95 >= lat.p50, JSON.stringify(lat));
});

test('a model against itself: agreement 1, KL 0, cosine 1, max diff 0, SQNR at the 300 dB cap; same accuracy', async () => {
  const a = await openModel(fixture('mlp', 'model.onnx'));
  const b = await openModel(fixture('mlp', 'model.onnx'));
  const m = await measure(a, b, { ...base, data: fixture('mlp', 'data', 'test_x.npy'), labels: fixture('mlp', 'data', 'test_y.npy'), samples: 300 }, defaultContext);
  assert.deepEqual(m.fidelity, { top1Agreement: 1, kl: 0, cosine: 1, maxAbsDiff: 0, sqnrDb: 300 });
  assert.equal(m.metrics.samples, 300);
  assert.equal(m.metrics.original!.accuracy, m.metrics.compressed!.accuracy);
  assert.ok(m.runtime!.latencyMs!.compressed!.p50 > 0);
});

test('LM perplexity on test_x matches an independent float64 computation within 1e-6 relative', async () => {
  const n = 64;
  const x = loadNpy(fixture('lm', 'data', 'test_x.npy'));
  const [, seq] = x.shape as [number, number];
  const ids = (x.data as BigInt64Array).subarray(0, n * seq);
  const session = await ort.InferenceSession.create(fixture('lm', 'model.onnx'));
  const out = await session.run({ input: new ort.Tensor('int64', ids, [n, seq]) });
  const logits = out.logits!.data as Float32Array;
  const vocab = out.logits!.dims[2]!;
  let nll = 0;
  for (let r = 0; r < n; r++) {
    for (let t = 0; t < seq - 1; t++) {
      const row = logits.subarray((r * seq + t) * vocab, (r * seq + t + 1) * vocab);
      let mx = -Infinity;
      for (const v of row) mx = Math.max(mx, v);
      let s = 0;
      for (const v of row) s += Math.exp(v - mx);
      nll += mx + Math.log(s) - row[Number(ids[r * seq + t + 1])]!;
    }
  }
  const expected = Math.exp(nll / (n * (seq - 1)));

  const model = await openModel(fixture('lm', 'model.onnx'));
  const m = await measure(model, undefined, { ...base, data: fixture('lm', 'data', 'test_x.npy'), samples: n, batchSize: 16 }, defaultContext);
  assert.equal(m.metrics.task, 'lm', 'auto: int64 [n, 32] in, [n, 32, 2001] out');
  const got = m.metrics.original!.perplexity!;
  assert.ok(Math.abs(got - expected) / expected < 1e-6, `${got} vs ${expected}`);
  assert.ok(got > 20 && got < 200, `a trained small LM: ${got}`);
});

test('a compressed model onnxruntime cannot load: runtime.loaded false with its error, the original still measured', async () => {
  const a = join(dir, 'tiny.onnx');
  const b = join(dir, 'odd.onnx');
  await saveModel(tinyModel(), a);
  await saveModel(unloadableModel(), b);
  const m = await measure(await openModel(a), await openModel(b), { ...base, data: 'random:8' }, defaultContext);
  assert.equal(m.runtime!.loaded, false);
  assert.match(m.runtime!.error!, /Mystery/);
  assert.equal(m.fidelity, undefined);
  assert.equal(m.metrics.task, 'fidelity');
  assert.match(m.metrics.note!, /accuracy was not measured/);
  assert.ok(m.runtime!.latencyMs!.original!.p50 > 0);
  assert.equal(m.runtime!.latencyMs!.compressed, undefined);
});
