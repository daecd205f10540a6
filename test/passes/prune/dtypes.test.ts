/**
 * prune on float16 and bfloat16 models (fixtures/dtypes): every method and pattern computes in float32
 * and writes the weights (and the biases bias correction fills) back in the model's own type; the result
 * runs in onnxruntime (float16) or compress's executor (bfloat16) with the quality of the float32 path.
 * A prune that prunes nothing fails with one line; the layers left dense are listed with why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { NothingToDoError } from '../../../src/core/errors.js';
import type { Model } from '../../../src/ir/model.js';
import { weightView } from '../../../src/ir/weights.js';
import { loadModel } from '../../../src/onnx/index.js';
import { prune } from '../../../src/passes/prune/index.js';
import type { LayerReport } from '../../../src/report/schema.js';
import { rows } from '../../helpers/data.js';
import { dtypeFixture, feedBatches, fixtureData, fixturePath, floatTensorTypes, outputsOf, runnerFor } from '../../helpers/dtypes.js';
import { accuracy, perplexity } from '../../helpers/metrics.js';
import { quiet } from './helpers.js';

const lmCalib = fixtureData('lm', 'calib_x');
const lmTest = rows(fixtureData('lm', 'test_x'), 0, 64);
const cnnTrain = rows(fixtureData('cnn', 'train_x'), 0, 64);
const cnnTrainLabels = Int32Array.from(fixtureData('cnn', 'train_y').data.subarray(0, 64) as BigInt64Array, Number);
const cnnTest = rows(fixtureData('cnn', 'test_x'), 0, 300);
const cnnLabels = fixtureData('cnn', 'test_y').data.subarray(0, 300) as BigInt64Array;

async function lmPerplexity(model: Model): Promise<number> {
  const o = await outputsOf(model, lmTest, runnerFor(model), 16);
  return perplexity(o.data, o.dims, lmTest.data as BigInt64Array);
}

async function cnnAccuracy(model: Model): Promise<number> {
  const o = await outputsOf(model, cnnTest, runnerFor(model), 100);
  return accuracy(o.data, o.dims[1]!, cnnLabels);
}

/** The pruned layers' weights: their type, and exact zeros per layer. */
function prunedWeights(model: Model, layers: LayerReport[]): { types: Set<number>; sparsity: number[] } {
  const types = new Set<number>();
  const sparsity: number[] = [];
  for (const l of layers.filter((r) => !r.skipped)) {
    const t = model.graph.nodes.find((n) => n.name === l.name)!.input(1)!.initializer!;
    types.add(t.dataType);
    const w = weightView(t);
    sparsity.push(w.filter((v) => v === 0).length / w.length);
  }
  return { types, sparsity };
}

async function prunedLm(path: string, options: Record<string, unknown>): Promise<{ model: Model; layers: LayerReport[]; report: Record<string, unknown> }> {
  const model = await loadModel(path);
  const r = await prune(model, options, { ...quiet, data: feedBatches(model, lmCalib, 16, 32) });
  return { model, layers: r.layers, report: r.report.pruning as Record<string, unknown> };
}

test('Wanda with bias correction, magnitude and 2:4 SparseGPT on the float16 / bfloat16 decoder: weights and biases stay in its type', async (t) => {
  // Wanda at 50 %, float32 and float16, on the same 32 calibration rows.
  const w32 = await prunedLm(fixturePath('lm', 'model.onnx'), { method: 'wanda', sparsity: 0.5 });
  const w16 = await prunedLm(dtypeFixture('lm_fp16'), { method: 'wanda', sparsity: 0.5 });
  const pw = prunedWeights(w16.model, w16.layers);
  assert.deepEqual([...pw.types], [DataType.FLOAT16]);
  assert.equal(pw.sparsity.length, 12);
  for (const s of pw.sparsity) assert.ok(Math.abs(s - 0.5) < 2e-3, `sparsity ${s}`);
  assert.equal(w16.report.biasCorrection, true);
  assert.deepEqual(floatTensorTypes(w16.model), { FLOAT16: floatTensorTypes(w16.model).FLOAT16 }, 'no float32 tensor was added (the corrected biases are float16)');
  for (const l of w16.layers.filter((r) => !r.skipped)) assert.match(String((l.biasCorrection as { into: string }).into), /^Add /, `${l.name}: corrected in its own bias Add`);
  const [p32, p16] = [await lmPerplexity(w32.model), await lmPerplexity(w16.model)];
  t.diagnostic(`Wanda 50% (32 calibration rows), perplexity on 64 test rows: float32 ${p32.toFixed(3)}, float16 ${p16.toFixed(3)}`);
  assert.ok(Math.abs(p16 / p32 - 1) < 0.01, `Wanda 50%: float16 perplexity ${p16}, float32 ${p32}`);

  // Magnitude on the float16 decoder, 2:4 SparseGPT on the bfloat16 one (checked in our executor).
  const dense16 = await lmPerplexity(await loadModel(dtypeFixture('lm_fp16')));
  const mag = await prunedLm(dtypeFixture('lm_fp16'), { method: 'magnitude', sparsity: 0.5 });
  assert.deepEqual([...prunedWeights(mag.model, mag.layers).types], [DataType.FLOAT16]);
  const pm = await lmPerplexity(mag.model);
  assert.ok(pm < dense16 * 1.1, `magnitude 50%: perplexity ${pm}, dense ${dense16}`);
  const denseBf = await lmPerplexity(await loadModel(dtypeFixture('lm_bf16')));
  const sg = await prunedLm(dtypeFixture('lm_bf16'), { method: 'sparsegpt', pattern: '2:4' });
  const ps = prunedWeights(sg.model, sg.layers);
  assert.deepEqual([...ps.types], [DataType.BFLOAT16]);
  for (const s of ps.sparsity) assert.ok(Math.abs(s - 0.5) < 1e-9, `2:4 sparsity ${s}`);
  const pb = await lmPerplexity(sg.model);
  t.diagnostic(`float16 dense ${dense16.toFixed(3)}, magnitude 50% ${pm.toFixed(3)}; bfloat16 dense ${denseBf.toFixed(3)}, 2:4 SparseGPT ${pb.toFixed(3)}`);
  assert.ok(pb < denseBf * 1.15, `2:4 SparseGPT bfloat16: perplexity ${pb}, dense ${denseBf}`);
});

test('channel pruning (L1 and Taylor) of the float16 CNN: float16 tensors shrink, onnxruntime runs it, accuracy as the float32 path', async (t) => {
  const channel = async (path: string, method: string) => {
    const model = await loadModel(path);
    const r = await prune(model, { pattern: 'channel', sparsity: 0.25, method }, { ...quiet, data: feedBatches(model, cnnTrain, 32), labels: cnnTrainLabels });
    return { model, layers: r.layers };
  };
  for (const method of ['l1', 'taylor']) {
    const c32 = await channel(fixturePath('cnn', 'model.onnx'), method);
    const c16 = await channel(dtypeFixture('cnn_fp16'), method);
    const pruned = c16.layers.filter((l) => !l.skipped);
    assert.ok(pruned.length >= 1, `${method}: some layer loses channels`);
    for (const l of pruned) {
      const ch = l.channels as { before: number; after: number };
      assert.ok(ch.after < ch.before, `${method} ${l.name}: ${ch.before} -> ${ch.after} channels`);
    }
    assert.deepEqual(Object.keys(floatTensorTypes(c16.model)), ['FLOAT16']);
    assert.deepEqual(
      c16.layers.map((l) => l.removedChannels),
      c32.layers.map((l) => l.removedChannels),
      `${method}: the float16 model loses the channels the float32 one does`,
    );
    const [a32, a16] = [await cnnAccuracy(c32.model), await cnnAccuracy(c16.model)];
    t.diagnostic(`channel ${method} 25%: accuracy on 300 test images float32 ${a32}, float16 ${a16}`);
    assert.ok(Math.abs(a16 - a32) <= 0.01, `${method}: float16 accuracy ${a16}, float32 ${a32}`);
  }
  // Weights in Constant nodes (as paddle2onnx writes them) become float16 initializers, pruned the same.
  const k = await channel(dtypeFixture('cnn_fp16_constants'), 'l1');
  const ref = await channel(dtypeFixture('cnn_fp16'), 'l1');
  assert.deepEqual(k.layers.map((l) => l.removedChannels), ref.layers.map((l) => l.removedChannels));
  assert.equal(await cnnAccuracy(k.model), await cnnAccuracy(ref.model));
});

test('nothing to prune: one line with the reasons; the layers left dense are in the layers with skipped', async () => {
  const all = await loadModel(dtypeFixture('mlp_fp16'));
  await assert.rejects(
    prune(all, { exclude: 'net' }, quiet),
    (e: Error) => e instanceof NothingToDoError && e.message === 'nothing to prune: none of the 3 MatMul/Gemm/Conv weights can be: 3 excluded by --exclude (Gemm)',
  );
  const model = await loadModel(dtypeFixture('mlp_fp16'));
  const r = await prune(model, { sparsity: 0.5 }, quiet);
  assert.deepEqual(
    r.layers.map((l) => [l.name, l.skipped ?? 'pruned']),
    [
      ['/net/net.2/Gemm', 'pruned'],
      ['/net/net.0/Gemm', 'first layer: kept dense by default (--no-keep-sensitive prunes it)'],
      ['/net/net.4/Gemm', 'output head: kept dense by default (--no-keep-sensitive prunes it)'],
    ],
  );
  const pruning = r.report.pruning as { denseBytes: { before: number; after: number }; params: { before: number } };
  assert.equal(pruning.denseBytes.before, 2 * pruning.params.before, 'float16 weights take 2 bytes');
});
