/**
 * distill with a float16 student (fixtures/dtypes/mlp_student_fp16, the mlp student converted) and a
 * float16 teacher: the student trains float32 master weights and gets them back as float16, so it stays a
 * float16 model that onnxruntime runs, and it learns what the float32 student learns from the same data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadModel } from '../../../src/onnx/index.js';
import { distill, trainableTensors } from '../../../src/passes/distill/index.js';
import { rows } from '../../helpers/data.js';
import { dtypeFixture, fixtureData, floatTensorTypes, outputsOf } from '../../helpers/dtypes.js';
import { accuracy } from '../../helpers/metrics.js';
import { fixture, fixtures, trainingContext } from './helpers.js';

const mlpX = join(fixtures, 'mlp', 'data', 'train_x.npy');
const mlpY = join(fixtures, 'mlp', 'data', 'train_y.npy');
const testX = rows(fixtureData('mlp', 'test_x'), 0, 500);
const testY = fixtureData('mlp', 'test_y').data.subarray(0, 500) as BigInt64Array;

test('a float16 student trains float32 master weights, stays float16, and learns as the float32 student does', async (t) => {
  const options = { epochs: 2, batchSize: 16, lr: 1e-2, alpha: 0.5, seed: 5, backend: 'wasm', samples: 192 };
  const s32 = await fixture('mlp_student');
  await distill(s32, { ...options, teacher: await fixture('mlp') }, trainingContext(s32, mlpX, { samples: 192, labels: mlpY }));
  const s16 = await loadModel(dtypeFixture('mlp_student_fp16'));
  const before = await outputsOf(s16, testX, 'onnxruntime', 250);
  assert.deepEqual(trainableTensors(s16).map((x) => x.name), ['net.0.weight', 'net.0.bias', 'net.2.weight', 'net.2.bias']);
  const r = await distill(s16, { ...options, teacher: await loadModel(dtypeFixture('mlp_fp16')) }, trainingContext(s16, mlpX, { samples: 192, labels: mlpY }));
  assert.equal(r.modified, true);
  assert.deepEqual(floatTensorTypes(s16), { FLOAT16: 4 }, 'the trained weights are written back as float16');
  const o16 = await outputsOf(s16, testX, 'onnxruntime', 250);
  const o32 = await outputsOf(s32, testX, 'onnxruntime', 250);
  const [a0, a16, a32] = [accuracy(before.data, 10, testY), accuracy(o16.data, 10, testY), accuracy(o32.data, 10, testY)];
  t.diagnostic(`accuracy on 500 test images: untrained ${a0}, float16 student ${a16}, float32 student ${a32} (2 epochs of 192 samples)`);
  assert.ok(a16 > a0 + 0.2, `the float16 student learned: ${a0} -> ${a16}`);
  assert.ok(Math.abs(a16 - a32) <= 0.02, `float16 student ${a16}, float32 student ${a32}`);
});
