import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../../src/runtime/backend.js';
import { gatherWithGrad } from '../../../src/runtime/util/gathergrad.js';
import { kernelBackends } from '../../helpers/backend.js';

const cases: { shape: number[]; idx: number[]; idxShape: number[]; axis: number }[] = [
  { shape: [10, 4], idx: [1, 3, 3, 9, 0, 3], idxShape: [2, 3], axis: 0 },
  { shape: [3, 7, 2], idx: [6, 0, 6, 2, 2], idxShape: [5], axis: 1 },
  { shape: [2, 3, 6], idx: [5, 5, 0, 1], idxShape: [2, 2], axis: 2 },
];

test('gatherWithGrad: value and gradient (repeated indices summed) equal tfjs gather on cpu, on both backends', async () => {
  for (const c of cases) {
    await initBackend('cpu');
    const n = c.shape.reduce((a, b) => a * b, 1);
    const x = tf.tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1)), c.shape);
    const idx = tf.tensor(c.idx, c.idxShape, 'int32');
    const outShape = [...c.shape.slice(0, c.axis), ...c.idxShape, ...c.shape.slice(c.axis + 1)];
    const r = tf.tensor(Float32Array.from({ length: outShape.reduce((a, b) => a * b, 1) }, (_, i) => Math.cos(i)), outShape);
    const refY = Array.from(tf.gather(x, idx, c.axis).dataSync());
    const refG = Array.from(tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.gather(a, idx, c.axis), r)))(x).dataSync());
    for (const backend of kernelBackends) {
      await initBackend(backend);
      const y = Array.from(gatherWithGrad(x, idx, c.axis).dataSync());
      const g = Array.from(tf.grad((a: tf.Tensor) => tf.sum(tf.mul(gatherWithGrad(a, idx, c.axis), r)))(x).dataSync());
      assert.deepEqual(y, refY, `${backend} value, axis ${c.axis}`);
      for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i]! - refG[i]!) < 1e-6, `${backend} gradient [${i}], axis ${c.axis}: ${g[i]} vs ${refG[i]}`);
    }
  }
});
