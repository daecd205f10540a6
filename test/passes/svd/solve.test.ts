import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../../src/runtime/backend.js';
import { factorsAt, greedyRanks, paramsAt, relativeError, spectrumOf, whitening, chooseFactorization } from '../../../src/passes/svd/solve.js';
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

test('greedyRanks takes rank from the layer that loses least per parameter saved', () => {
  const g = gaussian(1);
  // Layer 0: a nearly rank-1 matrix (cheap to compress); layer 1: a flat spectrum (expensive).
  const u = Float32Array.from({ length: 20 }, () => g());
  const v = Float32Array.from({ length: 20 }, () => g());
  const low = Float32Array.from({ length: 400 }, (_, i) => u[Math.floor(i / 20)]! * v[i % 20]! + 1e-3 * g());
  const flat = Float32Array.from({ length: 400 }, () => g());
  const layers = [{ spectrum: spectrumOf('matrix', low, 20, 20, 400) }, { spectrum: spectrumOf('matrix', flat, 20, 20, 400) }];
  const ranks = greedyRanks(layers, 300);
  assert.ok((ranks[0] ?? 99) <= 2, `low-rank layer kept rank ${ranks[0]}`);
  assert.equal(ranks[1], null);
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
