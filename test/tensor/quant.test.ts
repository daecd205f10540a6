import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dequantizeTensor,
  fromMatMulNBits,
  packNibbles,
  quantRange,
  quantizeTensor,
  relativeError,
  roundHalfEven,
  scaleZeroPoint,
  scaleShape,
  quantizeToMatMulNBits,
  toMatMulNBits,
  unpackNibbles,
} from '../../src/tensor/quant.js';
import { inlineElements, NBitsPool } from '../../src/tensor/nbits-pool.js';
import { bfloat16ToFloat32Array, float16ToFloat32Array, float32ToBfloat16Array, float32ToFloat16Array } from '../../src/core/float16.js';

test('roundHalfEven sends ties to the even neighbour, like numpy.round', () => {
  const xs = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001, 3, -3.7];
  assert.deepEqual(xs.map(roundHalfEven).map((v) => v + 0), [0, 2, 2, 0, -2, -2, 2, 3, 3, -4]);
});

test('quantRange: signed, unsigned, narrow', () => {
  assert.deepEqual(quantRange(8, false), { qmin: 0, qmax: 255 });
  assert.deepEqual(quantRange(8, true), { qmin: -128, qmax: 127 });
  assert.deepEqual(quantRange(8, true, true), { qmin: -127, qmax: 127 });
  assert.deepEqual(quantRange(4, true), { qmin: -8, qmax: 7 });
  assert.deepEqual(quantRange(4, false), { qmin: 0, qmax: 15 });
});

test('scaleZeroPoint matches onnxruntime compute_scale_zp', () => {
  // uint8 asymmetric over [-1, 3]: scale 4/255, zp round(0 + 1/(4/255)) = round(63.75) = 64
  const a = scaleZeroPoint(-1, 3, 0, 255, false);
  assert.equal(a.scale, Math.fround(4 / 255));
  assert.equal(a.zeroPoint, 64);
  // the range always contains 0: [2, 5] -> [0, 5], zp 0
  const b = scaleZeroPoint(2, 5, 0, 255, false);
  assert.equal(b.zeroPoint, 0);
  assert.equal(b.scale, Math.fround(5 / 255));
  // int8 symmetric narrow: absmax / 127
  const c = scaleZeroPoint(-0.5, 2.54, -127, 127, true);
  assert.equal(c.scale, Math.fround(5.08 / 254));
  assert.equal(c.zeroPoint, 0);
  // a zero-width range gives scale 1
  assert.equal(scaleZeroPoint(0, 0, 0, 255, false).scale, 1);
});

test('per-tensor int8 symmetric: codes, dequantization and error', () => {
  const w = Float32Array.from([0.1, -0.2, 1.27, -1.27, 0.005, 0]);
  const q = quantizeTensor(w, [2, 3], { kind: 'tensor' }, { bits: 8, symmetric: true });
  assert.deepEqual(q.scaleDims, []);
  assert.equal(q.zeroPoints, null);
  assert.equal(q.scales[0], Math.fround(0.01));
  assert.deepEqual(Array.from(q.codes), [10, -20, 127, -127, 0, 0]); // 0.005/0.01 = 0.5 -> 0 (ties to even)
  const d = dequantizeTensor(q);
  for (let i = 0; i < w.length; i++) assert.ok(Math.abs(d[i]! - w[i]!) <= 0.005 + 1e-7);
  const e = relativeError(w, d);
  assert.ok(e > 0 && e < 1e-4, `error ${e}`);
});

test('per-channel asymmetric uint8 along axis 1', () => {
  // W [2, 3]; column c has its own scale and zero point
  const w = Float32Array.from([0, 1, -2, 2, 3, -1]);
  const q = quantizeTensor(w, [2, 3], { kind: 'axis', axis: 1 }, { bits: 8, symmetric: false });
  assert.deepEqual(q.scaleDims, [3]);
  assert.equal(q.scales[0], Math.fround(2 / 255));
  assert.equal(q.zeroPoints![0], 0);
  assert.equal(q.scales[1], Math.fround(3 / 255));
  assert.equal(q.scales[2], Math.fround(2 / 255));
  assert.equal(q.zeroPoints![2], 255);
  const d = dequantizeTensor(q);
  // every value within half a step of its column; the column extremes and 0 exactly
  for (let i = 0; i < w.length; i++) assert.ok(Math.abs(d[i]! - w[i]!) <= q.scales[i % 3]! / 2 + 1e-7, `${d[i]} vs ${w[i]}`);
  for (const i of [0, 1, 2, 3, 4]) assert.ok(Math.abs(d[i]! - w[i]!) < 1e-6);
});

test('per-group 4-bit with a ragged last group (K=5, groups of 2)', () => {
  const K = 5;
  const N = 2;
  const w = new Float32Array(K * N);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i * 1.3) * (1 + i);
  const q = quantizeTensor(w, [K, N], { kind: 'block', axis: 0, blockSize: 2 }, { bits: 4, symmetric: true });
  assert.deepEqual(q.scaleDims, [3, 2]);
  assert.deepEqual(scaleShape([K, N], { kind: 'block', axis: 0, blockSize: 2 }), [3, 2]);
  // symmetric 4-bit: the extreme of each block maps to -8 exactly
  for (let b = 0; b < 3; b++) {
    for (let n = 0; n < N; n++) {
      const vals = [];
      for (let k = b * 2; k < Math.min(K, b * 2 + 2); k++) vals.push(w[k * N + n]!);
      const extreme = vals.reduce((m, v) => (Math.abs(v) > Math.abs(m) ? v : m), 0);
      assert.equal(q.scales[b * N + n], Math.fround(extreme / -8));
      const k0 = vals.indexOf(extreme) + b * 2;
      assert.equal(q.codes[k0 * N + n], -8);
    }
  }
  for (const c of q.codes) assert.ok(c >= -8 && c <= 7);
  // the last block holds one row only and reconstructs that row exactly
  const d = dequantizeTensor(q);
  assert.ok(Math.abs(d[4 * N]! - w[4 * N]!) < 1e-6);
  assert.ok(relativeError(w, d) < 0.01);
});

test('4-bit asymmetric: unsigned codes in 0..15, zero point exact for 0', () => {
  const w = Float32Array.from([-1, -0.5, 0, 0.5, 1, 2, 0, 3]);
  const q = quantizeTensor(w, [8], { kind: 'tensor' }, { bits: 4, symmetric: false });
  assert.equal(q.scales[0], Math.fround(4 / 15));
  assert.equal(q.zeroPoints![0], 4); // round(1 / (4/15)) = round(3.75)
  const d = dequantizeTensor(q);
  assert.equal(d[2], 0);
  for (const c of q.codes) assert.ok(c >= 0 && c <= 15);
});

test('nibble packing: low nibble first, signed two-complement, odd count', () => {
  const packed = packNibbles([1, 2, -1, 7, -8]);
  assert.deepEqual(Array.from(packed), [0x21, 0x7f, 0x08]);
  assert.deepEqual(Array.from(unpackNibbles(packed, 5, true)), [1, 2, -1, 7, -8]);
  assert.deepEqual(Array.from(unpackNibbles(packed, 5, false)), [1, 2, 15, 7, 8]);
});

test('MatMulNBits layout round-trips for 4 and 8 bits, symmetric and asymmetric, K not a multiple of the block', () => {
  const K = 40;
  const N = 3;
  const w = new Float32Array(K * N);
  for (let i = 0; i < w.length; i++) w[i] = Math.cos(i * 0.77) * 0.3 + (i % 7) * 0.01;
  for (const bits of [4, 8]) {
    for (const symmetric of [true, false]) {
      const q = quantizeTensor(w, [K, N], { kind: 'block', axis: 0, blockSize: 16 }, { bits, symmetric });
      const m = toMatMulNBits(q);
      assert.equal(m.kBlocks, 3);
      assert.equal(m.B.length, N * 3 * ((16 * bits) / 8));
      assert.equal(m.scales.length, N * 3);
      if (symmetric) assert.equal(m.zeroPoints, null);
      else assert.equal(m.zeroPoints!.length, N * Math.ceil((3 * bits) / 8));
      assert.deepEqual(Array.from(fromMatMulNBits(m)), Array.from(dequantizeTensor(q)), `bits ${bits} symmetric ${symmetric}`);
    }
  }
  // the first code of row n sits in the low nibble of byte 0 of that row
  const q = quantizeTensor(w, [K, N], { kind: 'block', axis: 0, blockSize: 16 }, { bits: 4, symmetric: false });
  const m = toMatMulNBits(q);
  assert.equal(m.B[0]! & 0xf, q.codes[0]);
  assert.equal(m.B[0]! >> 4, q.codes[N]);
  assert.equal(m.zeroPoints![0]! & 0xf, q.zeroPoints![0]);
  assert.equal(m.zeroPoints![0]! >> 4, q.zeroPoints![N]);
});

/** A seeded stream of values in [-0.5, 0.5) with a few exact ties and zeros mixed in. */
function values(n: number, seed: number): Float32Array {
  let s = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
    out[i] = i % 97 === 0 ? 0 : i % 89 === 0 ? 0.25 : s / 0x7fffffff - 0.5;
  }
  return out;
}

test('quantizeToMatMulNBits: the same codes, scales and zero points as quantizeTensor + toMatMulNBits, from float32, float16 and bfloat16, transposed or not', () => {
  const cases: [number, number, number, 4 | 8, boolean][] = [
    [70, 9, 32, 4, true],
    [64, 5, 16, 4, false],
    [100, 7, 32, 8, true],
    [33, 3, 16, 8, false],
    [256, 12, 128, 4, true],
  ];
  const same = (a: ArrayLike<number> | null, b: ArrayLike<number> | null) => (a === null || b === null ? a === b : a.length === b.length && Array.from(a).every((x, i) => Object.is(x, b[i])));
  for (const [K, N, bs, bits, symmetric] of cases) {
    const w = values(K * N, K + N);
    const layout = { kind: 'block', axis: 0, blockSize: bs } as const;
    const check = (src: Float32Array | Uint16Array, kind: 'float32' | 'float16' | 'bfloat16', decoded: Float32Array) => {
      const ref = toMatMulNBits(quantizeTensor(decoded, [K, N], layout, { bits, symmetric }));
      const refError = relativeError(decoded, fromMatMulNBits(ref));
      for (const transposed of [false, true]) {
        let input = src;
        if (transposed) {
          input = new (src.constructor as new (n: number) => Float32Array | Uint16Array)(K * N);
          for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) input[n * K + k] = src[k * N + n]!;
        }
        const got = quantizeToMatMulNBits(input, kind, K, N, bs, bits, symmetric, transposed);
        const what = `${kind} K=${K} N=${N} block ${bs} ${bits}-bit ${symmetric ? 'symmetric' : 'asymmetric'}${transposed ? ' transposed' : ''}`;
        assert.ok(same(got.weights.B, ref.B), `${what}: codes`);
        assert.ok(same(got.weights.scales, ref.scales), `${what}: scales`);
        assert.ok(same(got.weights.zeroPoints, ref.zeroPoints), `${what}: zero points`);
        assert.ok(Math.abs(got.error - refError) <= 1e-12 * Math.max(1, refError), `${what}: error ${got.error} vs ${refError}`);
      }
    };
    check(w, 'float32', w);
    const half = float32ToFloat16Array(w);
    check(half, 'float16', float16ToFloat32Array(half));
    const brain = float32ToBfloat16Array(w);
    check(brain, 'bfloat16', bfloat16ToFloat32Array(brain));
  }
});

test('NBitsPool with a spill folder: the codes wait on disk, byte for byte those of quantizing in turn; scales come back', async () => {
  const { mkdtempSync, readFileSync, readdirSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'compress-spill-'));
  const pool = new NBitsPool(2, undefined, dir);
  try {
    const jobs = [0, 1, 2].map((i) => ({ src: values(512 * 640, 11 + i), dataType: 'float32' as const, K: 512, N: 640, blockSize: 32, bits: (i === 1 ? 8 : 4) as 4 | 8, symmetric: i !== 2, transposed: false, transfer: false }));
    const expected = jobs.map((j) => quantizeToMatMulNBits(j.src, j.dataType, j.K, j.N, j.blockSize, j.bits, j.symmetric, j.transposed));
    const got = await Promise.all(jobs.map((j) => pool.run(j)));
    got.forEach((r, i) => {
      const s = r.spilled;
      assert.ok(s, `job ${i} was spilled`);
      assert.equal(r.weights.B.length, 0, 'no codes in memory');
      const codes = readFileSync(s.path).subarray(s.offset, s.offset + s.length);
      assert.deepEqual(new Uint8Array(codes), expected[i]!.weights.B, `job ${i}: codes on disk`);
      assert.deepEqual(r.weights.scales, expected[i]!.weights.scales, `job ${i}: scales`);
    });
    // Two workers, one file each, jobs 0 and 2 appended to the first one's.
    assert.equal(readdirSync(dir).length, 2);
    assert.equal(got[2]!.spilled!.offset, expected[0]!.weights.B.length);
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('NBitsPool: weights quantized in worker threads come back identical to quantizing in turn, in the order given', async () => {
  const pool = new NBitsPool(2);
  try {
    const jobs = [0, 1, 2, 3, 4].map((i) => {
      const K = 512 + 128 * i;
      const N = 640;
      return { src: values(K * N, 7 + i), dataType: 'float32' as const, K, N, blockSize: 32, bits: 4 as const, symmetric: i % 2 === 0, transposed: i === 3, transfer: i === 4 };
    });
    const expected = jobs.map((j) => quantizeToMatMulNBits(j.src, j.dataType, j.K, j.N, j.blockSize, j.bits, j.symmetric, j.transposed));
    assert.ok(jobs[0]!.src.length >= inlineElements, 'big enough to go to a worker');
    const got = await Promise.all(jobs.map((j) => pool.run(j)));
    got.forEach((r, i) => {
      assert.deepEqual(r.weights.B, expected[i]!.weights.B, `job ${i}: codes`);
      assert.deepEqual(r.weights.scales, expected[i]!.weights.scales, `job ${i}: scales`);
      assert.equal(r.error, expected[i]!.error);
    });
    assert.equal(jobs[4]!.src.length, 0, 'a transferred weight is moved, not copied');
    assert.equal(jobs[0]!.src.length, 512 * 640, 'a weight not given up is copied');
  } finally {
    await pool.close();
  }
});
