import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../../src/runtime/backend.js';
import { gptqQuantize, gridParams, reconstructionError, rtnQuantize, type GptqParams } from '../../../src/passes/gptq/solve.js';
import { dequantizeTensor } from '../../../src/tensor/quant.js';
import { NumericsError } from '../../../src/core/errors.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/** Correlated activations X [n, K] (AR(1) across inputs, some inputs loud) and H = 2 X^T X / n. */
function hessian(K: number, n: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float64Array(n * K);
  for (let t = 0; t < n; t++) {
    let prev = 0;
    for (let k = 0; k < K; k++) x[t * K + k] = prev = 0.8 * prev + r() * (k % 7 === 0 ? 3 : 1);
  }
  const h = new Float32Array(K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) {
    let s = 0;
    for (let t = 0; t < n; t++) s += x[t * K + i]! * x[t * K + j]!;
    h[i * K + j] = (2 * s) / n;
  }
  return h;
}

function weights(K: number, N: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: K * N }, () => r() * 0.5);
}

/**
 * The unblocked algorithm of the paper in float64 (Algorithm 1 with B = 1), the reference: Hinv by
 * Gauss-Jordan, its upper Cholesky factor, then each row quantized and its error pushed to all later rows.
 */
function referenceGptq(w0: Float32Array, K: number, N: number, h0: Float32Array, p: GptqParams): Float64Array {
  const h = Float64Array.from(h0);
  let mean = 0;
  for (let k = 0; k < K; k++) mean += h[k * K + k]!;
  for (let k = 0; k < K; k++) h[k * K + k]! += (p.damp * mean) / K;
  // inverse
  const a = Float64Array.from(h);
  const inv = new Float64Array(K * K);
  for (let i = 0; i < K; i++) inv[i * K + i] = 1;
  for (let c = 0; c < K; c++) {
    const piv = a[c * K + c]!;
    for (let j = 0; j < K; j++) {
      a[c * K + j]! /= piv;
      inv[c * K + j]! /= piv;
    }
    for (let r = 0; r < K; r++) {
      if (r === c) continue;
      const f = a[r * K + c]!;
      for (let j = 0; j < K; j++) {
        a[r * K + j]! -= f * a[c * K + j]!;
        inv[r * K + j]! -= f * inv[c * K + j]!;
      }
    }
  }
  // upper Cholesky U^T U = inv
  const u = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    let d = inv[i * K + i]!;
    for (let k = 0; k < i; k++) d -= u[k * K + i]! ** 2;
    u[i * K + i] = Math.sqrt(d);
    for (let j = i + 1; j < K; j++) {
      let s = inv[i * K + j]!;
      for (let k = 0; k < i; k++) s -= u[k * K + i]! * u[k * K + j]!;
      u[i * K + j] = s / u[i * K + i]!;
    }
  }
  const w = Float64Array.from(w0);
  const q = new Float64Array(K * N);
  const g = p.groupSize === -1 ? K : p.groupSize;
  const sc = new Float64Array(N);
  const zp = new Float64Array(N);
  const { qmin, qmax } = p.symmetric ? { qmin: -(2 ** (p.bits - 1)), qmax: 2 ** (p.bits - 1) - 1 } : { qmin: 0, qmax: 2 ** p.bits - 1 };
  for (let k = 0; k < K; k++) {
    if (k % g === 0) {
      for (let n = 0; n < N; n++) {
        let lo = Infinity;
        let hi = -Infinity;
        for (let r = k; r < Math.min(K, k + g); r++) {
          lo = Math.min(lo, w[r * N + n]!);
          hi = Math.max(hi, w[r * N + n]!);
        }
        const gp = gridParams(lo, hi, p.bits, p.symmetric);
        sc[n] = gp.scale;
        zp[n] = gp.zeroPoint;
      }
    }
    for (let n = 0; n < N; n++) {
      const c = Math.min(qmax, Math.max(qmin, Math.round(w[k * N + n]! / sc[n]!) + zp[n]!));
      q[k * N + n] = (c - zp[n]!) * sc[n]!;
      const e = (w[k * N + n]! - q[k * N + n]!) / u[k * K + k]!;
      for (let r = k + 1; r < K; r++) w[r * N + n]! -= e * u[k * K + r]!;
    }
  }
  return q;
}

test('GPTQ matches the unblocked float64 reference (4x6 ... 288x16)', async () => {
  await initBackend('auto');
  for (const [K, N, bits, groupSize, blockSize, symmetric] of [
    [4, 6, 4, -1, 2, false],
    [6, 4, 3, -1, 4, true],
    [16, 8, 4, 8, 5, false],
    [64, 32, 4, 16, 16, false],
    [64, 32, 3, -1, 128, true],
    // groups longer than a block: each group's rows get every earlier error when it starts
    [64, 16, 4, 32, 8, false],
    [96, 16, 3, 32, 16, true],
    // above linalg's leaf size: the recursive Cholesky, and groups of 128 and 48 rows fitted on the
    // paper's partially updated rows (paperRows) across several blocks
    [256, 24, 4, 128, 128, false],
    [288, 16, 4, 48, 32, true],
  ] as const) {
    const h = hessian(K, 4 * K, K + N);
    const w = weights(K, N, K * N);
    const p: GptqParams = { bits, symmetric, groupSize, actOrder: false, damp: 0.01, blockSize };
    const r = gptqQuantize(w, K, N, h, p);
    const ref = referenceGptq(w, K, N, h, p);
    let mismatch = 0;
    let maxStep = 0;
    for (let i = 0; i < ref.length; i++) {
      const d = Math.abs(r.dequantized[i]! - ref[i]!);
      if (d > 1e-5) mismatch++;
      maxStep = Math.max(maxStep, d);
    }
    // float32 against float64 may land a value on the other side of a rounding boundary, rarely (none of
    // these cases does, measured).
    assert.ok(mismatch <= Math.ceil(0.002 * ref.length), `${K}x${N}: ${mismatch} of ${ref.length} differ (max ${maxStep})`);
    // the codes are what the dequantized values say
    assert.deepEqual(dequantizeTensor(r.q), r.dequantized);
    assert.ok(r.error <= r.rtnError * 1.0001, `${K}x${N}: GPTQ ${r.error} vs RTN ${r.rtnError}`);
  }
});

test('GPTQ beats round-to-nearest on correlated activations, with and without act-order', async () => {
  await initBackend('auto');
  const K = 128;
  const N = 48;
  const h = hessian(K, 512, 5);
  const w = weights(K, N, 9);
  for (const [bits, groupSize, actOrder] of [[4, 32, false], [4, 32, true], [3, -1, true], [2, 64, false], [8, 128, false]] as const) {
    const r = gptqQuantize(w, K, N, h, { bits, symmetric: false, groupSize, actOrder, damp: 0.01, blockSize: 32 });
    assert.ok(r.error < r.rtnError * (bits === 8 ? 1 : 0.8), `${bits} bits g${groupSize} act-order ${actOrder}: GPTQ ${r.error} vs RTN ${r.rtnError}`);
    assert.equal(r.damp, 0.01);
    const rtn = rtnQuantize(w, K, N, { bits, symmetric: false, groupSize, actOrder, damp: 0.01, blockSize: 32 });
    assert.ok(Math.abs(reconstructionError(w, rtn.dequantized, h, K, N) - r.rtnError) < 1e-6);
    // codes stay in the grid of `bits` bits
    const top = 2 ** bits - 1;
    assert.ok(r.q.codes.every((c) => c >= 0 && c <= top));
  }
});

test('dead inputs are zeroed; a Hessian that cannot be made positive definite names the layer', async () => {
  await initBackend('auto');
  const K = 8;
  const N = 3;
  const h = hessian(K, 32, 2);
  for (let j = 0; j < K; j++) {
    h[3 * K + j] = 0;
    h[j * K + 3] = 0;
  }
  const w = weights(K, N, 4);
  const r = gptqQuantize(w, K, N, h, { bits: 4, symmetric: true, groupSize: -1, actOrder: false, damp: 0.01, blockSize: 4 });
  assert.equal(r.deadInputs, 1);
  assert.deepEqual(Array.from(r.dequantized.subarray(3 * N, 4 * N), Math.abs), [0, 0, 0]);
  const bad = new Float32Array(K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) bad[i * K + j] = i === j ? 1 : -5;
  assert.throws(() => gptqQuantize(w, K, N, bad, { bits: 4, symmetric: true, groupSize: -1, actOrder: false, damp: 0.01, blockSize: 4 }, '/blocks.0/q/MatMul'), (e: Error) => e instanceof NumericsError && e.message.includes("'/blocks.0/q/MatMul'"));
});

test('an indefinite Hessian is rescued by raising the damping x10', async () => {
  await initBackend('auto');
  const K = 6;
  const h = new Float32Array(K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) h[i * K + j] = i === j ? 1 : i + j === 3 ? -0.55 : 0;
  // eigenvalues 1 +- 0.55 and 1 +- 0.55*... make one pair slightly indefinite
  h[0 * K + 1] = h[1 * K + 0] = -1.005;
  const w = weights(K, 2, 1);
  const r = gptqQuantize(w, K, 2, h, { bits: 4, symmetric: false, groupSize: -1, actOrder: false, damp: 0.001, blockSize: 8 });
  assert.ok(r.damp > 0.001, `damp ${r.damp}`);
});
