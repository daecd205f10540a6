import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/runtime/backend.js';
import { cholesky, choleskyWithInverse, inverseUpperCholesky, lowerTriangularInverse, matmul, quadraticForm, solveLower, solveUpper, transpose, upperTriangularInverse } from '../../src/tensor/linalg.js';

/** A seeded SPD matrix X^T X / m + eps I of size n (m > n rows of correlated noise). */
function spd(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const m = n + 8;
  const x = new Float64Array(m * n);
  for (let r = 0; r < m; r++) {
    let prev = 0;
    for (let c = 0; c < n; c++) x[r * n + c] = prev = 0.6 * prev + rnd();
  }
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let v = 0;
    for (let r = 0; r < m; r++) v += x[r * n + i]! * x[r * n + j]!;
    a[i * n + j] = v / m + (i === j ? 0.05 : 0);
  }
  return a;
}

/** Textbook Cholesky in float64, the reference. */
function refCholesky(a: Float32Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) {
    let s = a[i * n + j]!;
    for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
    l[i * n + j] = i === j ? Math.sqrt(s) : s / l[j * n + j]!;
  }
  return l;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('cholesky matches the textbook algorithm (4 ... 200, recursive above 96)', async () => {
  await initBackend('auto');
  for (const n of [4, 6, 32, 64, 150, 200]) {
    const a = spd(n, n);
    const ref = refCholesky(a, n);
    const { l, inv } = choleskyWithInverse(a, n);
    assert.ok(maxDiff(l, ref) / maxAbs(ref) < 2e-4, `n=${n}: L differs by ${maxDiff(l, ref)}`);
    // L^-1 L = I
    const prod = matmul(inv, n, n, l, n, n);
    const eye = new Float32Array(n * n).map((_, i) => (i % (n + 1) === 0 ? 1 : 0));
    assert.ok(maxDiff(prod, eye) < 2e-3, `n=${n}: L^-1 L - I = ${maxDiff(prod, eye)}`);
    assert.deepEqual(cholesky(a, n), l);
  }
});

test('cholesky refuses a matrix that is not positive definite, naming the pivot', async () => {
  await initBackend('auto');
  const a = new Float32Array([4, 2, 2, 1]);
  assert.throws(() => cholesky(a, 2), (e: Error & { pivot?: number }) => e.pivot === 1);
  const big = spd(130, 3);
  big[120 * 130 + 120] = -1;
  assert.throws(() => cholesky(big, 130), (e: Error & { pivot?: number }) => e.pivot === 120);
});

test('inverseUpperCholesky: U upper, U^T U = A^-1', async () => {
  await initBackend('auto');
  for (const n of [4, 6, 64, 160]) {
    const a = spd(n, 7 * n);
    const u = inverseUpperCholesky(a, n);
    for (let i = 0; i < n; i++) {
      assert.ok(u[i * n + i]! > 0);
      for (let j = 0; j < i; j++) assert.equal(u[i * n + j], 0);
    }
    const utu = matmul(u, n, n, u, n, n, true, false);
    const prod = matmul(utu, n, n, a, n, n);
    const eye = new Float32Array(n * n).map((_, i) => (i % (n + 1) === 0 ? 1 : 0));
    assert.ok(maxDiff(prod, eye) < 5e-3, `n=${n}: U^T U A - I = ${maxDiff(prod, eye)}`);
  }
});

test('triangular inverses and solves', async () => {
  await initBackend('auto');
  const n = 120;
  const l = Float32Array.from(refCholesky(spd(n, 11), n));
  const linv = lowerTriangularInverse(l, n);
  const eye = new Float32Array(n * n).map((_, i) => (i % (n + 1) === 0 ? 1 : 0));
  assert.ok(maxDiff(matmul(l, n, n, linv, n, n), eye) < 1e-3);
  const u = transpose(l, n, n);
  assert.ok(maxDiff(matmul(upperTriangularInverse(u, n), n, n, u, n, n), eye) < 1e-3);
  const b = Array.from({ length: n }, (_, i) => Math.sin(i));
  const x = solveLower(l, n, b);
  const back = matmul(l, n, n, Float32Array.from(x), n, 1);
  assert.ok(maxDiff(back, b) < 1e-4);
  const y = solveUpper(u, n, b);
  assert.ok(maxDiff(matmul(u, n, n, Float32Array.from(y), n, 1), b) < 1e-4);
});

test('quadraticForm is tr(E^T H E)', async () => {
  await initBackend('auto');
  const K = 5;
  const N = 3;
  const h = spd(K, 5);
  const e = Float32Array.from({ length: K * N }, (_, i) => Math.cos(i));
  let ref = 0;
  for (let n = 0; n < N; n++) for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) ref += e[i * N + n]! * h[i * K + j]! * e[j * N + n]!;
  assert.ok(Math.abs(quadraticForm(h, e, K, N) - ref) < 1e-4 * Math.abs(ref));
});
