/**
 * The pruning solvers on small matrices: exact counts (n:m, per layer, global), and that the data-aware
 * scores (Wanda, SparseGPT) lose less of the layer's output than magnitude when the inputs are correlated
 * and unevenly scaled.
 */
import { test } from 'node:test';
import { mulberry32 } from '../../../src/core/random.js';
import assert from 'node:assert/strict';
import { initBackend } from '../../../src/runtime/backend.js';
import { inverseUpperCholesky } from '../../../src/tensor/linalg.js';
import {
  applyMask,
  countZeros,
  dampenHessian,
  globalMasks,
  lowestK,
  magnitudeScores,
  nmMask,
  relativeOutputError,
  sparseGpt,
  unstructuredMask,
  wandaScores,
  type RowMatrix,
} from '../../../src/passes/prune/solve.js';
import { parsePruneOptions } from '../../../src/passes/prune/options.js';

const rng = mulberry32;

function randn(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return out;
}

test('lowestK marks exactly k entries, the smallest first, ties by position', () => {
  const m = lowestK([3, 1, 1, 1, 0, 5], 3);
  assert.deepEqual([...m], [0, 1, 1, 0, 1, 0]);
  assert.equal(lowestK([1, 2], 0).reduce((a, b) => a + b, 0), 0);
  assert.equal(lowestK([1, 2], 5).reduce((a, b) => a + b, 0), 2);
});

test('n:m masks keep exactly n of every m consecutive inputs, for 2:4, 4:8 and 3:5', () => {
  for (const [n, m] of [
    [2, 4],
    [4, 8],
    [3, 5],
  ] as const) {
    const rows = 6;
    const cols = m * 7;
    const w = randn(rows * cols, 11 + m);
    // Ties: some groups are all equal, which must still keep exactly n.
    for (let j = 0; j < m; j++) w[j] = 0.5;
    const mask = nmMask(magnitudeScores(w), rows, cols, n, m);
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < cols; g += m) {
        let kept = 0;
        let minKept = Infinity;
        let maxGone = -Infinity;
        for (let j = g; j < g + m; j++) {
          const a = Math.abs(w[r * cols + j]!);
          if (mask[r * cols + j]) maxGone = Math.max(maxGone, a);
          else {
            kept++;
            minKept = Math.min(minKept, a);
          }
        }
        assert.equal(kept, n, `row ${r} group ${g / m} of ${n}:${m}`);
        assert.ok(maxGone <= minKept, 'the kept weights are the largest of their group');
      }
    }
    const out = Float32Array.from(w);
    applyMask(out, mask);
    assert.equal(countZeros(out), (rows * cols * (m - n)) / m);
  }
});

test('magnitude per layer removes exactly the share in every layer; global removes it over all layers', () => {
  // Two layers of very different scales: global ranking takes most zeros from the small one.
  const a = randn(400, 1).map((x) => x * 0.1);
  const b = randn(600, 2);
  const s = 0.5;
  const la = unstructuredMask(magnitudeScores(a), 20, 20, s, false);
  const lb = unstructuredMask(magnitudeScores(b), 20, 30, s, false);
  assert.equal(la.reduce((x, y) => x + y, 0), 200);
  assert.equal(lb.reduce((x, y) => x + y, 0), 300);
  const [ga, gb] = globalMasks([a, b], s);
  const za = ga!.reduce((x, y) => x + y, 0);
  const zb = gb!.reduce((x, y) => x + y, 0);
  assert.equal(za + zb, 500, 'global: exactly half of all weights');
  assert.ok(za > 350, `the small-scale layer loses most of its weights (${za} of 400)`);
  assert.ok(zb < 150, `the large-scale layer keeps most (${600 - zb} of 600 kept)`);
  // Every removed weight is no larger than every kept one, across both layers.
  let maxGone = 0;
  let minKept = Infinity;
  [a, b].forEach((w, k) => {
    const m = k === 0 ? ga! : gb!;
    for (let i = 0; i < w.length; i++) {
      if (m[i]) maxGone = Math.max(maxGone, Math.abs(w[i]!));
      else minKept = Math.min(minKept, Math.abs(w[i]!));
    }
  });
  assert.ok(maxGone <= minKept);
});

test('Wanda and SparseGPT lose less output than magnitude on correlated, unevenly scaled inputs', async () => {
  await initBackend('auto');
  const rows = 24;
  const cols = 32;
  const tokens = 512;
  // Inputs: a few shared factors (correlation) and per-column scales from 0.1 to 10 (outlier features).
  const z = randn(tokens * 4, 7);
  const noise = randn(tokens * cols, 8);
  const mix = randn(4 * cols, 9);
  const x = new Float32Array(tokens * cols);
  for (let t = 0; t < tokens; t++) {
    for (let j = 0; j < cols; j++) {
      let v = 0.5 * noise[t * cols + j]!;
      for (let f = 0; f < 4; f++) v += z[t * 4 + f]! * mix[f * cols + j]!;
      x[t * cols + j] = v * (j % 8 === 0 ? 10 : j % 3 === 0 ? 0.1 : 1);
    }
  }
  const h = new Float64Array(cols * cols);
  for (let t = 0; t < tokens; t++) for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) h[i * cols + j] = h[i * cols + j]! + x[t * cols + i]! * x[t * cols + j]!;
  const colSq = new Float64Array(cols);
  for (let j = 0; j < cols; j++) colSq[j] = h[j * cols + j]!;
  const w: RowMatrix = { rows, cols, data: randn(rows * cols, 10) };

  for (const pattern of ['unstructured', '2:4'] as const) {
    const nm = pattern === '2:4' ? { n: 2, m: 4 } : undefined;
    const mag = Float32Array.from(w.data);
    applyMask(mag, nm ? nmMask(magnitudeScores(w.data), rows, cols, 2, 4) : unstructuredMask(magnitudeScores(w.data), rows, cols, 0.5, false));
    const wanda = Float32Array.from(w.data);
    const ws = wandaScores(w, colSq);
    applyMask(wanda, nm ? nmMask(ws, rows, cols, 2, 4) : unstructuredMask(ws, rows, cols, 0.5, true));
    const { h: hd, dead } = dampenHessian(h, cols, 0.01);
    const U = inverseUpperCholesky(hd, cols);
    const sg = sparseGpt(w, { hinvUpper: U, dead }, { sparsity: 0.5, nm, blockSize: 8 });
    const eMag = relativeOutputError(w, mag, h);
    const eWanda = relativeOutputError(w, wanda, h);
    const eSg = relativeOutputError(w, sg.data, h);
    assert.equal(countZeros(sg.data), (rows * cols) / 2, `${pattern}: SparseGPT prunes exactly half`);
    assert.ok(eWanda < eMag, `${pattern}: Wanda ${eWanda.toFixed(4)} < magnitude ${eMag.toFixed(4)}`);
    assert.ok(eSg < eWanda, `${pattern}: SparseGPT ${eSg.toFixed(4)} < Wanda ${eWanda.toFixed(4)}`);
    if (nm) {
      for (let r = 0; r < rows; r++) {
        for (let g = 0; g < cols; g += 4) {
          let nz = 0;
          for (let j = g; j < g + 4; j++) if (sg.data[r * cols + j] !== 0) nz++;
          assert.ok(nz <= 2, `SparseGPT 2:4 row ${r} group ${g / 4} keeps ${nz}`);
          assert.equal([0, 1, 2, 3].filter((k) => sg.mask[r * cols + g + k]).length, 2);
        }
      }
    }
  }
});

test('options: defaults, conflicts and the channel method default', () => {
  const d = parsePruneOptions({});
  assert.equal(d.sparsity, 0.5);
  assert.equal(d.method, 'magnitude');
  assert.equal(d.keepSensitive, true);
  assert.deepEqual(parsePruneOptions({ pattern: '2:4' }).sparsity, 0.5);
  assert.equal(parsePruneOptions({ pattern: '4:8' }).pattern.kind, 'nm');
  assert.equal(parsePruneOptions({ pattern: 'channel' }).method, 'l1');
  assert.throws(() => parsePruneOptions({ pattern: '2:4', sparsity: 0.7 }), /fixes the sparsity/);
  assert.throws(() => parsePruneOptions({ method: 'l2' }), /--pattern channel/);
  assert.throws(() => parsePruneOptions({ method: 'wanda', pattern: 'channel' }), /channel/);
  assert.throws(() => parsePruneOptions({ method: 'wanda', scope: 'global' }), /magnitude only/);
  assert.throws(() => parsePruneOptions({ sparsity: 1 }), /\[0, 1\)/);
  assert.throws(() => parsePruneOptions({ pattern: '4:2' }), /pattern/);
});
