import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { compareWithOrt, input, randFloats, randInts, rng, runOurs, singleNodeModel, type NodeSpec } from './quantHarness.js';

const U8 = DataType.UINT8;
const I8 = DataType.INT8;
const range = (t: number): [number, number] => (t === U8 ? [0, 255] : [-128, 127]);

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
}

/** The spec's requantization in onnxruntime's float32 order. */
function requantize(acc: number, mult: number, yzp: number, lo: number, hi: number): number {
  const v = roundHalfEven(Math.fround(Math.fround(acc) * mult)) + yzp;
  return Math.min(hi, Math.max(lo, v));
}

interface Case {
  name: string;
  m: number;
  k: number;
  n: number;
  aType: number;
  bType: number;
  yType: number;
  perColumn?: boolean;
  extreme?: boolean;
  opset?: number;
  batch?: number;
}

const cases: Case[] = [
  { name: 'uint8 x uint8 -> uint8', m: 4, k: 12, n: 5, aType: U8, bType: U8, yType: U8 },
  { name: 'int8 x int8 -> int8', m: 3, k: 40, n: 6, aType: I8, bType: I8, yType: I8 },
  { name: 'uint8 x int8 -> uint8, per-column b scale and zero point', m: 5, k: 20, n: 7, aType: U8, bType: I8, yType: U8, perColumn: true },
  { name: 'K = 1000 extreme values (accumulator > 2^24 rounds when converted to float)', m: 2, k: 1000, n: 3, aType: U8, bType: U8, yType: U8, extreme: true },
  { name: 'K = 700 random, batched A [2, 3, K]', m: 3, k: 700, n: 4, aType: U8, bType: I8, yType: U8, batch: 2 },
  { name: 'opset 21', m: 3, k: 9, n: 4, aType: U8, bType: U8, yType: U8, opset: 21 },
];

for (const c of cases) {
  test(`QLinearMatMul ${c.name}: equal to onnxruntime and the spec`, async () => {
    const r = rng(c.m * 7 + c.k * 3 + c.n);
    const [alo, ahi] = range(c.aType);
    const [blo, bhi] = range(c.bType);
    const [ylo, yhi] = range(c.yType);
    const batch = c.batch ?? 1;
    let a = randInts(r, batch * c.m * c.k, alo, ahi);
    let b = randInts(r, c.k * c.n, blo, bhi);
    let azp = randInts(r, 1, alo, ahi)[0]!;
    let bzp = randInts(r, c.perColumn ? c.n : 1, blo, bhi);
    const yzp = randInts(r, 1, ylo, yhi)[0]!;
    const as = Math.fround(0.02 + r() * 0.01);
    const bs = Array.from(randFloats(r, c.perColumn ? c.n : 1, 0.002, 0.01));
    let ys = Math.fround(0.05 * Math.sqrt(c.k) + r() * 0.01);
    if (c.extreme) {
      a = a.map(() => ahi);
      b = b.map(() => bhi);
      azp = 0;
      bzp = [0];
      // Lands mid-range (about 130), so the float32 conversion of the 65,025,000 accumulator matters.
      ys = Math.fround((as * bs[0]! * c.k * 255 * 255) / 130.3);
    }
    const aDims = batch > 1 ? [batch, c.m, c.k] : [c.m, c.k];
    const spec: NodeSpec = {
      opType: 'QLinearMatMul',
      opset: c.opset ?? 10,
      inputs: [
        input('a', c.aType, aDims, a),
        input('a_scale', DataType.FLOAT, [], [as], true),
        input('a_zp', c.aType, [], [azp], true),
        input('b', c.bType, [c.k, c.n], b, true),
        input('b_scale', DataType.FLOAT, c.perColumn ? [c.n] : [], bs, true),
        input('b_zp', c.bType, c.perColumn ? [c.n] : [], bzp, true),
        input('y_scale', DataType.FLOAT, [], [ys], true),
        input('y_zp', c.yType, [], [yzp], true),
      ],
      outputs: [{ name: 'y', dataType: c.yType }],
    };
    await compareWithOrt(spec);
    const ours = await runOurs(singleNodeModel(spec), spec);
    const expected: number[] = [];
    for (let t = 0; t < batch; t++) {
      for (let i = 0; i < c.m; i++) {
        for (let j = 0; j < c.n; j++) {
          let acc = 0;
          const zb = bzp.length > 1 ? bzp[j]! : bzp[0]!;
          for (let p = 0; p < c.k; p++) acc += (a[(t * c.m + i) * c.k + p]! - azp) * (b[p * c.n + j]! - zb);
          const mult = Math.fround(Math.fround(as * Math.fround(bs.length > 1 ? bs[j]! : bs[0]!)) / ys);
          expected.push(requantize(acc, mult, yzp, ylo, yhi));
        }
      }
    }
    assert.deepEqual(ours.y!.values, expected);
  });
}
