import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../../src/runtime/backend.js';
import {
  accumulateAccuracy,
  accumulateKl,
  accumulateNll,
  combineLoss,
  createEval,
  crossEntropy,
  nextTokenPairs,
  softTargetLoss,
  solveEval,
} from '../../../src/passes/distill/loss.js';

function softmax(x: number[], t = 1): number[] {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp((v - m) / t));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

test('softTargetLoss is T^2 * KL(softmax(t/T) || softmax(s/T)), averaged over rows of any rank', async () => {
  await initBackend('cpu');
  const s = [[1, 2, 0.5], [0, -1, 3]];
  const t = [[2, 1, 0], [0.5, 0.5, 1]];
  const T = 3;
  let ref = 0;
  for (let i = 0; i < 2; i++) {
    const p = softmax(t[i]!, T);
    const q = softmax(s[i]!, T);
    ref += p.reduce((a, pi, j) => a + pi * Math.log(pi / q[j]!), 0);
  }
  ref = (ref / 2) * T * T;
  const got = softTargetLoss(tf.tensor3d([s]), tf.tensor3d([t]), T).dataSync()[0]!;
  assert.ok(Math.abs(got - ref) < 1e-5, `${got} vs ${ref}`);
  assert.ok(Math.abs(softTargetLoss(tf.tensor2d(s), tf.tensor2d(s), T).dataSync()[0]!) < 1e-6);
});

test('crossEntropy, next-token pairs and the alpha mix', async () => {
  await initBackend('cpu');
  const logits = [[2, 0, 1], [0, 3, 0]];
  const ref = -(Math.log(softmax(logits[0]!)[2]!) + Math.log(softmax(logits[1]!)[1]!)) / 2;
  const ce = crossEntropy(tf.tensor2d(logits), tf.tensor1d([2, 1], 'int32'));
  assert.ok(Math.abs(ce.dataSync()[0]! - ref) < 1e-5);
  // [1, 3, 2] logits of a 3-token row: positions 0, 1 predict ids 1, 2.
  const lm = tf.tensor3d([[[1, 0], [0, 1], [5, 5]]]);
  const pairs = nextTokenPairs(lm, tf.tensor2d([[0, 1, 0]], [1, 3], 'int32'));
  assert.deepEqual(pairs.logits.shape, [2, 2]);
  assert.deepEqual([...pairs.targets.dataSync()], [1, 0]);
  const mix = combineLoss({ soft: tf.scalar(2), hard: tf.scalar(4), hidden: [tf.scalar(0.5)] }, 0.25);
  assert.ok(Math.abs(mix.dataSync()[0]! - (0.5 + 3 + 0.5)) < 1e-6);
  assert.equal(combineLoss({ soft: tf.scalar(2), hidden: [] }, 0.25).dataSync()[0], 2);
});

test('host metrics: accuracy, KL, perplexity', () => {
  const s = createEval();
  accumulateAccuracy(s, [0, 1, 5, 0, 0, 1], 2, [1, 0, 0]);
  assert.equal(solveEval(s, 'accuracy'), 2 / 3);
  const k = createEval();
  accumulateKl(k, [1, 2, 3, 0, 0, 0], [1, 2, 3, 0, 0, 0], 2, 3);
  assert.ok(Math.abs(solveEval(k, 'kl')) < 1e-12);
  // Uniform logits over a vocabulary of 4: perplexity 4.
  const p = createEval();
  accumulateNll(p, new Float32Array(2 * 3 * 4), [0, 1, 2, 3, 2, 1], 2, 3, 4);
  assert.equal(p.count, 4);
  assert.ok(Math.abs(solveEval(p, 'perplexity') - 4) < 1e-9);
});
