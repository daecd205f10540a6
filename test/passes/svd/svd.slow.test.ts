/**
 * Slow svd checks. fixtures/lm: the whole-model --ratio 0.5 (head in the allocation) against the per-layer
 * rule at the same parameters, both activation-aware (docs/svd.md's LM table). ppocr-rec-v4's 120 x 6625 output head (node p2o.MatMul.24), factorized alone: activation-aware against
 * plain SVD at the same rank, on rendered text lines (test/passes/quantize/data/text_lines.npy: 48
 * grayscale 48 x 320 lines; the first 24 calibrate, the last 24 test). Agreement is the share of time
 * steps whose argmax character matches the float model, in onnxruntime-node. Needs
 * `node scripts/fetch-models.mjs` first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { noProgress, silentLogger } from '../../../src/core/logger.js';
import { readNpy, type HostArray } from '../../../src/calibration/readers/npy.js';
import { loadModel } from '../../../src/onnx/index.js';
import { svd } from '../../../src/passes/svd/index.js';
import { agreement, batches, outputsOf, perplexity, relErr2, rows } from './helpers.js';

/** Gray uint8 [n, 48, W] -> PaddleOCR's input [n, 3, 48, W], (x / 255 - 0.5) / 0.5. */
function toInput(a: HostArray): HostArray {
  const [n, h, w] = a.shape as [number, number, number];
  const out = new Float32Array(n * 3 * h * w);
  const src = a.data as Uint8Array;
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) for (let p = 0; p < h * w; p++) out[(i * 3 + c) * h * w + p] = (src[i * h * w + p]! / 255 - 0.5) / 0.5;
  return { dataType: DataType.FLOAT, shape: [n, 3, h, w], data: out };
}

test('ppocr-rec-v4 head at rank 24 (of 120): activation-aware keeps more of the float model than plain SVD', async () => {
  const path = '.cache/models/ppocr-rec-v4.onnx';
  const lines = toInput(readNpy('test/passes/quantize/data/text_lines.npy'));
  const calib = rows(lines, 0, 24);
  const held = rows(lines, 24, 48);
  const base = await loadModel(path);
  const ref = await outputsOf(base, 'x', held, 8);
  const classes = ref.dims[2]!;
  const res = [];
  for (const aware of [false, true]) {
    const m = await loadModel(path);
    const r = await svd(m, { rank: 24, keepHead: false, exclude: '^(?!p2o\\.MatMul\\.24$)' }, { logger: silentLogger, progress: noProgress, ...(aware ? { data: batches(calib, 'x', 8) } : {}) });
    const done = r.layers.filter((l) => l.rank !== undefined);
    assert.equal(done.length, 1);
    assert.equal(done[0]!.params, 24 * (120 + 6625));
    const o = await outputsOf(m, 'x', held, 8);
    res.push({ agreement: agreement(o.data, ref.data, classes), error: relErr2(o.data, ref.data), layerError: Number(done[0]!.error) });
  }
  const [plain, aware] = res as [(typeof res)[0], (typeof res)[0]];
  assert.ok(aware.error < plain.error, `output error aware ${aware.error} vs plain ${plain.error}`);
  assert.ok(aware.agreement >= plain.agreement, `agreement aware ${aware.agreement} vs plain ${plain.agreement}`);
  assert.ok(aware.agreement > 0.9, `agreement aware ${aware.agreement}`);
});

test('fixtures/lm, --ratio 0.5 --no-keep-head --data: the whole-model target (measured sensitivities) beats --per-layer at the same parameters', async () => {
  const dir = 'fixtures/lm/data';
  const testX = readNpy(`${dir}/test_x.npy`);
  const calib = readNpy(`${dir}/calib_x.npy`);
  const pool = 649344;
  const res = [];
  for (const perLayer of [true, false]) {
    const m = await loadModel('fixtures/lm/model.onnx');
    const r = await svd(m, { ratio: 0.5, perLayer, keepHead: false }, { logger: silentLogger, progress: noProgress, data: batches(calib, 'input', 64) });
    const params = r.layers.reduce((s, l) => s + l.params, 0);
    assert.ok(params <= 0.5 * pool, `weights ${params} of ${pool}`);
    if (!perLayer) assert.equal(r.plan.target?.sensitivity, 'model');
    const o = await outputsOf(m, 'input', testX, 64);
    res.push({ params, perplexity: perplexity(o.data, o.dims, testX.data as BigInt64Array) });
  }
  const [each, whole] = res as [(typeof res)[0], (typeof res)[0]];
  assert.ok(whole.params >= each.params, `whole-model weights ${whole.params} vs per-layer ${each.params}`);
  // Measured: per-layer 48.07, whole-model 47.88 (float 47.65).
  assert.ok(whole.perplexity < each.perplexity, `perplexity whole-model ${whole.perplexity} vs per-layer ${each.perplexity}`);
});
