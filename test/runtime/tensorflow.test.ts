/**
 * The oneDNN kernels compress asks TensorFlow for by name (src/runtime/tensorflow.ts): in the native run
 * (`npm run test:native`) they must be there, since the conv and small-product paths count on them (a
 * TensorFlow that lost them would fall back to Eigen's ops silently, 1.3-4x slower), and the products on
 * either side of the size threshold must equal a float64 reference. In `npm test` (wasm) none of it runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/runtime/backend.js';
import { mklOp, nativeMatMul, nativeOps } from '../../src/runtime/tensorflow.js';
import { nativeRun, testBackend } from '../helpers/backend.js';
import { rng } from './ops/quantHarness.js';

/** a [m, k] @ b [k, n] in float64, row-major. */
function reference(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p]!;
      for (let j = 0; j < n; j++) out[i * n + j] = out[i * n + j]! + x * b[p * n + j]!;
    }
  }
  return out;
}

test(`native kernels on ${testBackend}: oneDNN's convs present on tfjs-node; products below and above the oneDNN threshold match float64`, async () => {
  await initBackend(testBackend);
  if (!nativeRun) {
    assert.equal(nativeOps(), false, 'no native op may run on a tfjs backend other than tensorflow');
    return;
  }
  assert.equal(nativeOps(), true);
  for (const op of ['Conv2D', 'Conv2DWithBias', 'DepthwiseConv2dNative'] as const) assert.ok(mklOp(op), `TensorFlow has no oneDNN ${op}`);
  const random = rng(7);
  // 64x96x80 (0.5 M multiply-adds) runs on oneDNN, 256x512x520 (68 M, above 2^26) on Eigen; B transposed too.
  for (const [m, k, n] of [
    [64, 96, 80],
    [256, 512, 520],
  ] as const) {
    const a = Float32Array.from({ length: m * k }, () => random() * 2 - 1);
    const b = Float32Array.from({ length: k * n }, () => random() * 2 - 1);
    const want = reference(a, b, m, k, n);
    const scale = want.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
    const bt = new Float32Array(k * n);
    for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) bt[j * k + p] = b[p * n + j]!;
    for (const transposed of [false, true]) {
      const got = tf.tidy(() => nativeMatMul(tf.tensor2d(a, [m, k]), transposed ? tf.tensor2d(bt, [n, k]) : tf.tensor2d(b, [k, n]), false, transposed).dataSync());
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      assert.ok(worst <= 1e-5 * scale, `${m}x${k}x${n}${transposed ? ' (B transposed)' : ''}: max|diff| ${worst} against scale ${scale}`);
    }
  }
});
