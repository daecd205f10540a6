import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { createColumnNorms, createHessian, withColumnMeans } from '../../../src/calibration/accumulators/index.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { GRAM_BLOCK } from '../../../src/tensor/linalg.js';
import { RTensor } from '../../../src/runtime/value.js';

function batch(rows: number, K: number, seed: number): Float32Array {
  return Float32Array.from({ length: rows * K }, (_, i) => Math.sin(seed * 31 + i * 0.7) + (i % K) * 0.1);
}

test('Hessian: 2 X^T X / n over streamed batches, [b, s, K] flattened, transposed Gemm inputs', async () => {
  await initBackend('auto');
  const K = 6;
  const a = batch(2 * 3, K, 1); // [2, 3, 6]
  const b = batch(4, K, 2); // [4, 6]
  const acc = createHessian(K);
  acc.add(RTensor.fromNumbers(DataType.FLOAT, [2, 3, K], a), { K, transposed: false });
  // b given as [K, 4] (transA = 1 layout)
  const bt = new Float32Array(4 * K);
  for (let r = 0; r < 4; r++) for (let k = 0; k < K; k++) bt[k * 4 + r] = b[r * K + k]!;
  acc.add(RTensor.fromNumbers(DataType.FLOAT, [K, 4], bt), { K, transposed: true });
  assert.equal(acc.samples, 10);
  const all = [...a, ...b];
  const H = acc.hessian();
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) {
    let s = 0;
    for (let r = 0; r < 10; r++) s += all[r * K + i]! * all[r * K + j]!;
    assert.ok(Math.abs(H[i * K + j]! - (2 * s) / 10) < 1e-4, `H[${i},${j}]`);
  }
  const g = acc.gram();
  assert.ok(Math.abs(g[0]! - (H[0]! * 10) / 2) < 1e-4);
  acc.dispose();
  assert.throws(() => acc.add(RTensor.fromNumbers(DataType.FLOAT, [2, 5], new Float32Array(10)), { K: 5, transposed: false }), /K = 5/);
});

test('Hessian above GRAM_BLOCK inputs: upper column blocks mirrored into the exact full X^T X', async () => {
  await initBackend('auto');
  const K = 2 * GRAM_BLOCK + 37; // blocks of GRAM_BLOCK, GRAM_BLOCK and 37
  const rows = [5, 3];
  const xs = rows.map((r, i) => batch(r, K, 10 + i));
  const acc = createHessian(K);
  acc.add(RTensor.fromNumbers(DataType.FLOAT, [rows[0]!, K], xs[0]!), { K, transposed: false });
  const bt = new Float32Array(rows[1]! * K);
  for (let r = 0; r < rows[1]!; r++) for (let k = 0; k < K; k++) bt[k * rows[1]! + r] = xs[1]![r * K + k]!;
  acc.add(RTensor.fromNumbers(DataType.FLOAT, [K, rows[1]!], bt), { K, transposed: true });
  const g = acc.gram();
  const all = [...xs[0]!, ...xs[1]!];
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) {
      let s = 0;
      for (let r = 0; r < 8; r++) s += all[r * K + i]! * all[r * K + j]!;
      worst = Math.max(worst, Math.abs(g[i * K + j]! - s));
      scale = Math.max(scale, Math.abs(s));
    }
  }
  assert.ok(worst <= 1e-5 * scale, `max |G - X^T X| ${worst} of ${scale}`);
  for (let i = 0; i < K; i += 97) for (let j = 0; j < K; j += 89) assert.equal(g[i * K + j], g[j * K + i], `symmetry at ${i},${j}`);
  acc.dispose();
});

test('column norms: ||X_j||_2 over streamed batches', async () => {
  await initBackend('auto');
  const K = 4;
  const a = batch(5, K, 3);
  const b = batch(3, K, 4);
  const acc = createColumnNorms(K);
  acc.add(RTensor.fromNumbers(DataType.FLOAT, [5, K], a), { K, transposed: false });
  acc.add(RTensor.fromNumbers(DataType.FLOAT, [1, 3, K], b), { K, transposed: false });
  assert.equal(acc.samples, 8);
  const all = [...a, ...b];
  const norms = acc.norms();
  for (let j = 0; j < K; j++) {
    let s = 0;
    for (let r = 0; r < 8; r++) s += all[r * K + j]! ** 2;
    assert.ok(Math.abs(norms[j]! - Math.sqrt(s)) < 1e-5);
  }
});

test('column means beside another statistic: E[x_j] over streamed batches, transposed Gemm inputs too', async () => {
  await initBackend('auto');
  const K = 5;
  const a = batch(6, K, 5); // [2, 3, 5]
  const b = batch(4, K, 6); // given as [K, 4]
  const bt = new Float32Array(4 * K);
  for (let r = 0; r < 4; r++) for (let k = 0; k < K; k++) bt[k * 4 + r] = b[r * K + k]!;
  const acc = withColumnMeans(createColumnNorms(K));
  acc.add(RTensor.fromNumbers(DataType.FLOAT, [2, 3, K], a), { K, transposed: false });
  acc.add(RTensor.fromNumbers(DataType.FLOAT, [K, 4], bt), { K, transposed: true });
  assert.equal(acc.samples, 10);
  assert.equal(acc.inner.samples, 10, 'the wrapped accumulator saw the same batches');
  const all = [...a, ...b];
  const means = acc.means();
  for (let j = 0; j < K; j++) {
    let s = 0;
    let q = 0;
    for (let r = 0; r < 10; r++) {
      s += all[r * K + j]!;
      q += all[r * K + j]! ** 2;
    }
    assert.ok(Math.abs(means[j]! - s / 10) < 1e-5, `mean ${j}`);
    assert.ok(Math.abs(acc.inner.norms()[j]! - Math.sqrt(q)) < 1e-4, `norm ${j}`);
  }
  acc.dispose();
});

/**
 * A Conv over an input [2, C, 5, 5] (pads 1, `strides`) with `group` groups: its layout's conv part, the
 * patch geometry, K, output pixels per sample, and every patch row of group `gi` (im2col, for the sums).
 */
async function convCase(C: number, group: number, strides: [number, number]) {
  const { Node } = await import('../../../src/ir/node.js');
  const { makeAttr } = await import('../../../src/ir/attribute.js');
  const { im2colRows, patchSize } = await import('../../../src/tensor/im2col.js');
  const { patchGeometry } = await import('../../../src/calibration/accumulators/hessian.js');
  const node = new Node('Conv', '', 'conv');
  node.setAttr(makeAttr('group', group, 'int'));
  node.setAttr(makeAttr('pads', [1, 1, 1, 1]));
  node.setAttr(makeAttr('strides', strides));
  const conv = { node, weightDims: [C, C / group, 3, 3], group };
  const g = patchGeometry([2, C, 5, 5], conv);
  const K = patchSize(g);
  const pixels = g.out[0] * g.out[1];
  const patches = (x: Float32Array, gi: number): Float32Array => {
    const p = new Float32Array(2 * pixels * K);
    for (let n = 0; n < 2; n++) im2colRows(x, false, g, gi, n, 0, pixels, p.subarray(n * pixels * K, (n + 1) * pixels * K));
    return p;
  };
  return { conv, K, pixels, patches };
}

test("Hessian of a Conv's input: 2 P^T P / n of its patches, per group (depthwise groups summed on the host)", async () => {
  await initBackend('auto');
  const C = 4;
  const x = Float32Array.from({ length: 2 * C * 5 * 5 }, (_, i) => Math.sin(i * 0.29) + 0.1);
  for (const group of [1, C]) {
    const { conv, K, pixels, patches } = await convCase(C, group, [2, 2]);
    const acc = createHessian(K);
    acc.add(RTensor.fromNumbers(DataType.FLOAT, [2, C, 5, 5], x), { K, transposed: false, conv });
    assert.equal(acc.samples, 2 * pixels);
    const hs = acc.groupHessians();
    assert.equal(hs.length, group);
    for (let gi = 0; gi < group; gi++) {
      const p = patches(x, gi);
      for (let i = 0; i < K; i++)
        for (let j = 0; j < K; j++) {
          let s = 0;
          for (let r = 0; r < 2 * pixels; r++) s += p[r * K + i]! * p[r * K + j]!;
          assert.ok(Math.abs(hs[gi]![i * K + j]! - (2 * s) / (2 * pixels)) < 1e-4, `group ${gi} of ${group}: H[${i},${j}]`);
        }
    }
    acc.dispose();
  }
});

test("column norms and means of a Conv's input: sums over its patch rows, per group", async () => {
  await initBackend('auto');
  const C = 4;
  const x = Float32Array.from({ length: 2 * C * 5 * 5 }, (_, i) => Math.cos(i * 0.37) + 0.2);
  for (const group of [1, 2]) {
    const { conv, K, pixels, patches } = await convCase(C, group, [1, 1]);
    const acc = withColumnMeans(createColumnNorms(K));
    acc.add(RTensor.fromNumbers(DataType.FLOAT, [2, C, 5, 5], x), { K, transposed: false, conv });
    assert.equal(acc.samples, 2 * pixels);
    assert.equal(acc.inner.samples, 2 * pixels);
    assert.equal(acc.inner.groups, group);
    for (let gi = 0; gi < group; gi++) {
      const p = patches(x, gi);
      const sq = acc.inner.sumOfSquares(gi);
      const mean = acc.means(gi);
      for (let j = 0; j < K; j++) {
        let s = 0;
        let s2 = 0;
        for (let r = 0; r < 2 * pixels; r++) {
          s += p[r * K + j]!;
          s2 += p[r * K + j]! ** 2;
        }
        assert.ok(Math.abs(sq[j]! - s2) < 1e-4 * Math.max(1, s2), `group ${gi} of ${group}: sum of squares ${j}`);
        assert.ok(Math.abs(mean[j]! - s / (2 * pixels)) < 1e-6, `group ${gi} of ${group}: mean ${j}`);
      }
    }
    acc.dispose();
  }
});
