import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../../src/runtime/backend.js';
import { NumericsError } from '../../../src/core/errors.js';
import { allocateRanks, factorsAt, interpolatedCosts, measuredRanks, paramsAt, relativeError, spectrumOf, whitening, chooseFactorization, type AllocLayer } from '../../../src/passes/svd/solve.js';
import { gaussian } from '../../../src/tensor/svd.js';

/** ||X (W - A B)||² / ||X W||² for X [T, K], W [K, N]. */
function outputError(x: Float64Array, T: number, K: number, N: number, w: Float32Array, a: Float32Array, b: Float32Array, r: number): number {
  let num = 0;
  let den = 0;
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < N; j++) {
      let y = 0;
      let z = 0;
      for (let k = 0; k < K; k++) {
        y += x[t * K + k]! * w[k * N + j]!;
        let ab = 0;
        for (let q = 0; q < r; q++) ab += a[k * r + q]! * b[q * N + j]!;
        z += x[t * K + k]! * ab;
      }
      num += (y - z) ** 2;
      den += y * y;
    }
  }
  return num / den;
}

test('activation-aware factors: lower output error than plain SVD at the same rank, equal to the whitened tail', async () => {
  await initBackend('auto');
  const T = 200;
  const K = 16;
  const N = 12;
  const g = gaussian(3);
  // Inputs with very unequal feature scales (what makes whitening matter).
  const x = Float64Array.from({ length: T * K }, (_, i) => g() * 10 ** ((i % K) / 5 - 1.5));
  const w = Float32Array.from({ length: K * N }, () => g());
  const gram = new Float32Array(K * K);
  for (let t = 0; t < T; t++) for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) gram[i * K + j] = gram[i * K + j]! + x[t * K + i]! * x[t * K + j]!;
  const white = whitening(gram, K, 1e-6)!;
  const aware = spectrumOf('matrix', w, K, N, K * N, white);
  const plain = spectrumOf('matrix', w, K, N, K * N);
  for (const r of [2, 4, 6]) {
    const fa = factorsAt(aware, r);
    const fp = factorsAt(plain, r);
    const ea = outputError(x, T, K, N, w, fa.a, fa.b, r);
    const ep = outputError(x, T, K, N, w, fp.a, fp.b, r);
    assert.ok(ea < ep, `rank ${r}: aware ${ea} >= plain ${ep}`);
    assert.ok(Math.abs(ea - relativeError(aware, r)) < 1e-3 * Math.max(ea, 1e-3), `rank ${r}: measured ${ea} vs predicted ${relativeError(aware, r)}`);
  }
});

test('plain factors reproduce W at full rank and have tail-energy error below it', () => {
  const g = gaussian(9);
  const w = Float32Array.from({ length: 6 * 4 }, () => g());
  const s = spectrumOf('matrix', w, 6, 4, 24);
  const { a, b } = factorsAt(s, 4);
  for (let i = 0; i < 6; i++) {
    for (let j = 0; j < 4; j++) {
      let v = 0;
      for (let q = 0; q < 4; q++) v += a[i * 4 + q]! * b[q * 4 + j]!;
      assert.ok(Math.abs(v - w[i * 4 + j]!) < 1e-5);
    }
  }
  assert.equal(paramsAt(s, 2), 20);
  assert.ok(relativeError(s, 2) > 0 && relativeError(s, 2) < relativeError(s, 1));
});

/** The least total cost over every choice of ranks that fits (brute force, for small cases). */
function bestCost(layers: AllocLayer[], capacity: number): number {
  let best = Infinity;
  const walk = (l: number, used: number, cost: number) => {
    if (used > capacity) return;
    if (l === layers.length) {
      best = Math.min(best, cost);
      return;
    }
    const L = layers[l]!;
    walk(l + 1, used + L.full, cost);
    for (const o of L.options) walk(l + 1, used + o.size, cost + o.cost);
  };
  walk(0, 0, 0);
  return best;
}

function totals(layers: AllocLayer[], ranks: (number | null)[]): { size: number; cost: number } {
  let size = 0;
  let cost = 0;
  ranks.forEach((r, i) => {
    const L = layers[i]!;
    size += r === null ? L.full : L.options[r - 1]!.size;
    cost += r === null ? 0 : L.options[r - 1]!.cost;
  });
  return { size, cost };
}

test('allocateRanks: a cheap layer gives up rank first, the target is met, an unreachable one throws', () => {
  const g = gaussian(1);
  // Layer 0: a nearly rank-1 matrix (cheap to compress); layer 1: a flat spectrum (expensive).
  const u = Float32Array.from({ length: 20 }, () => g());
  const v = Float32Array.from({ length: 20 }, () => g());
  const low = spectrumOf('matrix', Float32Array.from({ length: 400 }, (_, i) => u[Math.floor(i / 20)]! * v[i % 20]! + 1e-3 * g()), 20, 20, 400);
  const flat = spectrumOf('matrix', Float32Array.from({ length: 400 }, () => g()), 20, 20, 400);
  const layers = [low, flat].map((s) => ({ full: 400, options: Array.from({ length: 9 }, (_, r) => ({ size: paramsAt(s, r + 1), cost: relativeError(s, r + 1) })) }));
  const ranks = allocateRanks(layers, 500);
  assert.ok((ranks[0] ?? 99) <= 2, `low-rank layer kept rank ${ranks[0]}`);
  assert.equal(ranks[1], null);
  assert.ok(totals(layers, ranks).size <= 500);
  assert.deepEqual(allocateRanks(layers, 800), [null, null]);
  assert.throws(() => allocateRanks(layers, 79), NumericsError);
  assert.deepEqual(allocateRanks(layers, 80), [1, 1]);
});

test('allocateRanks: within 2 % of the best total cost found by brute force on random layers, never over capacity', () => {
  const g = gaussian(7);
  let worst = 0;
  for (let trial = 0; trial < 40; trial++) {
    const layers: AllocLayer[] = Array.from({ length: 3 }, () => {
      const per = 4 + Math.floor(Math.abs(g()) * 10);
      const n = 3 + Math.floor(Math.abs(g()) * 5);
      // A decreasing error curve of random shape (not convex).
      let c = 1 + Math.abs(g());
      const options = Array.from({ length: n }, (_, r) => {
        c *= 0.3 + 0.6 * Math.abs(Math.sin(g()));
        return { size: per * (r + 1), cost: c };
      });
      return { full: per * (n + 1), options };
    });
    const min = layers.reduce((s, l) => s + l.options[0]!.size, 0);
    const max = layers.reduce((s, l) => s + l.full, 0);
    const capacity = Math.round(min + (max - min) * (0.2 + 0.6 * Math.abs(Math.sin(trial))));
    const ranks = allocateRanks(layers, capacity);
    const got = totals(layers, ranks);
    assert.ok(got.size <= capacity, `trial ${trial}: size ${got.size} > ${capacity}`);
    const best = bestCost(layers, capacity);
    worst = Math.max(worst, got.cost - best);
    assert.ok(got.cost <= best * 1.02 + 1e-9, `trial ${trial}: cost ${got.cost} vs best ${best}`);
  }
  assert.ok(worst >= 0);
});

test('interpolatedCosts meets the measured points and follows the layer error in between', () => {
  const g = gaussian(5);
  const s = spectrumOf('matrix', Float32Array.from({ length: 30 * 20 }, () => g()), 30, 20, 600);
  assert.deepEqual(measuredRanks(11), [1, 3, 6, 11]);
  assert.deepEqual(measuredRanks(64), [1, 4, 8, 16, 32, 64]);
  const points = [{ rank: 1, error: 2 * relativeError(s, 1) }, { rank: 5, error: 4 * relativeError(s, 5) }, { rank: 11, error: 4 * relativeError(s, 11) }];
  const c = interpolatedCosts(s, points, 11);
  assert.equal(c.length, 11);
  assert.equal(c[0], points[0]!.error);
  assert.equal(c[4], points[1]!.error);
  // Rank 3, halfway between ranks 1 and 5: the ratio 3 (between 2 and 4) times the layer's own error.
  assert.ok(Math.abs(c[2]! - 3 * relativeError(s, 3)) < 1e-12);
  assert.ok(Math.abs(c[7]! - 4 * relativeError(s, 8)) < 1e-12);
});

test('chooseFactorization: at a fixed ratio the more accurate factorization, at an energy the smaller one', () => {
  const g = gaussian(4);
  const a = spectrumOf('channel', Float32Array.from({ length: 36 * 8 }, () => g()), 36, 8, 288);
  // A candidate whose spectrum is rank 1: it wins at any asked error.
  const u = Float32Array.from({ length: 12 }, () => g());
  const v = Float32Array.from({ length: 24 }, () => g());
  const b = spectrumOf('spatial', Float32Array.from({ length: 12 * 24 }, (_, i) => u[Math.floor(i / 24)]! * v[i % 24]!), 12, 24, 288);
  assert.equal(chooseFactorization([a, b], { kind: 'ratio', ratio: 0.5 }).spectrum.kind, 'spatial');
  const e = chooseFactorization([a, b], { kind: 'energy', energy: 0.9 });
  assert.equal(e.spectrum.kind, 'spatial');
  assert.equal(e.rank, 1);
});
