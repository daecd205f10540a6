import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gaussian, reconstruct, svd, svdExact, svdRandomized, tailEnergy, truncate, type Svd } from '../../src/tensor/svd.js';
import { initBackend } from '../../src/runtime/backend.js';

function randomMatrix(m: number, n: number, seed: number): Float64Array {
  const g = gaussian(seed);
  return Float64Array.from({ length: m * n }, () => g());
}

/** Q R with random orthonormal Q: a matrix with prescribed singular values `s`. */
function withSpectrum(m: number, n: number, s: number[], seed: number): Float64Array {
  const u = svdExact(randomMatrix(m, s.length, seed), m, s.length).u;
  const v = svdExact(randomMatrix(n, s.length, seed + 1), n, s.length).u;
  return reconstruct({ m, n, k: s.length, u, s: Float64Array.from(s), v });
}

function orthoError(f: Float64Array, rows: number, k: number): number {
  let worst = 0;
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      let d = 0;
      for (let i = 0; i < rows; i++) d += f[i * k + a]! * f[i * k + b]!;
      worst = Math.max(worst, Math.abs(d - (a === b ? 1 : 0)));
    }
  }
  return worst;
}

function frob2(a: ArrayLike<number>, b?: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - (b ? b[i]! : 0)) ** 2;
  return s;
}

function checkSvd(a: Float64Array, d: Svd, tol: number): void {
  for (let i = 1; i < d.k; i++) assert.ok(d.s[i - 1]! >= d.s[i]!, `s[${i - 1}] = ${d.s[i - 1]} < s[${i}] = ${d.s[i]}`);
  assert.ok(orthoError(d.u, d.m, d.k) < 1e-4, `UᵀU - I = ${orthoError(d.u, d.m, d.k)}`);
  assert.ok(orthoError(d.v, d.n, d.k) < 1e-4, `VᵀV - I = ${orthoError(d.v, d.n, d.k)}`);
  const rel = Math.sqrt(frob2(reconstruct(d), a) / frob2(a));
  assert.ok(rel < tol, `reconstruction error ${rel}`);
}

for (const [m, n] of [[20, 12], [12, 20], [30, 30], [200, 16], [7, 1]] as const) {
  test(`svdExact on a random ${m} x ${n} matrix: sorted, orthonormal, reconstructs, rank-r error = tail energy`, () => {
    const a = randomMatrix(m, n, m * 100 + n);
    const d = svdExact(a, m, n);
    assert.equal(d.k, Math.min(m, n));
    checkSvd(a, d, 1e-12);
    const tail = tailEnergy(d.s);
    assert.ok(Math.abs(tail[0]! - frob2(a)) < 1e-9 * frob2(a));
    for (const r of [1, Math.floor(d.k / 2), d.k - 1]) {
      const err = frob2(reconstruct(truncate(d, r)), a);
      assert.ok(Math.abs(err - tail[r]!) < 1e-9 * frob2(a), `rank ${r}: error² ${err} vs tail ${tail[r]}`);
    }
  });
}

test('svdExact on an ill-conditioned matrix (condition 1e12) keeps small singular values to relative accuracy', () => {
  const s = Array.from({ length: 10 }, (_, i) => 10 ** (-i * 12 / 9));
  const a = withSpectrum(25, 10, s, 7);
  const d = svdExact(a, 25, 10);
  checkSvd(a, d, 1e-10);
  for (let i = 0; i < 10; i++) assert.ok(Math.abs(d.s[i]! - s[i]!) < 1e-9 * s[0]!, `s[${i}] = ${d.s[i]} vs ${s[i]}`);
  // The relative accuracy of the largest few is that of float64 rounding.
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(d.s[i]! / s[i]! - 1) < 1e-6);
});

test('svdExact on a rank-deficient matrix: zero singular values, U still orthonormal', () => {
  const a = withSpectrum(15, 9, [3, 2, 1], 11);
  const d = svdExact(a, 15, 9);
  checkSvd(a, d, 1e-10);
  for (let i = 3; i < 9; i++) assert.ok(d.s[i]! < 1e-12, `s[${i}] = ${d.s[i]}`);
});

test('svdRandomized matches the exact truncated SVD on a low-rank-plus-noise matrix', async () => {
  await initBackend('auto');
  const m = 300;
  const n = 120;
  const r = 8;
  const low = withSpectrum(m, n, Array.from({ length: r }, (_, i) => 100 / (i + 1)), 3);
  const noise = randomMatrix(m, n, 5);
  const a = low.map((x, i) => x + 0.01 * noise[i]!);
  const exact = svdExact(a, m, n);
  const rnd = svdRandomized(a, m, n, r, { seed: 1 });
  assert.equal(rnd.k, r);
  assert.ok(orthoError(rnd.u, m, r) < 1e-4);
  assert.ok(orthoError(rnd.v, n, r) < 1e-4);
  for (let i = 0; i < r; i++) assert.ok(Math.abs(rnd.s[i]! / exact.s[i]! - 1) < 1e-4, `s[${i}]: ${rnd.s[i]} vs ${exact.s[i]}`);
  const errR = frob2(reconstruct(rnd), a);
  const tail = tailEnergy(exact.s)[r]!;
  assert.ok(errR < tail * 1.05 + 1e-6 * frob2(a), `randomized error² ${errR} vs optimal ${tail}`);
  // The dispatcher picks the randomized path for a big matrix and a small rank, with the same answer.
  const viaSvd = svd(a, m, n, { rank: r, randomizedAbove: 1000, seed: 1 });
  assert.ok(Math.abs(viaSvd.s[0]! - exact.s[0]!) < 1e-4 * exact.s[0]!);
});
