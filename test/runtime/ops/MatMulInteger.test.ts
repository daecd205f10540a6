import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { compareWithOrt, input, randInts, rng, runOurs, singleNodeModel, type NodeSpec } from './quantHarness.js';

const U8 = DataType.UINT8;
const I8 = DataType.INT8;
const range = (t: number): [number, number] => (t === U8 ? [0, 255] : [-128, 127]);

/** Plain-JS int32 matmul of 2-D operands with per-tensor / per-row / per-column zero points. */
function reference(a: number[], b: number[], m: number, k: number, n: number, azp: number[], bzp: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      const za = azp.length > 1 ? azp[i]! : azp[0] ?? 0;
      const zb = bzp.length > 1 ? bzp[j]! : bzp[0] ?? 0;
      for (let p = 0; p < k; p++) s += (a[i * k + p]! - za) * (b[p * n + j]! - zb);
      out.push(s);
    }
  }
  return out;
}

interface Case {
  name: string;
  m: number;
  k: number;
  n: number;
  aType: number;
  bType: number;
  azp: 'none' | 'tensor' | 'row';
  bzp: 'none' | 'tensor' | 'column';
  /** Fill with the extreme values instead of random ones. */
  extreme?: boolean;
  /** onnxruntime-node 1.30 refuses this configuration (it is valid ONNX): compare with the spec only. */
  ortRejects?: boolean;
}

const cases: Case[] = [
  { name: 'uint8 x uint8, per-tensor zero points', m: 3, k: 5, n: 4, aType: U8, bType: U8, azp: 'tensor', bzp: 'tensor' },
  { name: 'uint8 x int8, per-column B zero point', m: 4, k: 33, n: 6, aType: U8, bType: I8, azp: 'tensor', bzp: 'column' },
  { name: 'int8 x int8, no zero points', m: 2, k: 17, n: 3, aType: I8, bType: I8, azp: 'none', bzp: 'none' },
  { name: 'int8 x uint8', m: 2, k: 9, n: 3, aType: I8, bType: U8, azp: 'tensor', bzp: 'tensor' },
  { name: 'uint8 per-row A zero point', m: 5, k: 8, n: 3, aType: U8, bType: U8, azp: 'row', bzp: 'tensor', ortRejects: true },
  { name: 'K = 400, all 255 (two chunks of K)', m: 2, k: 400, n: 3, aType: U8, bType: U8, azp: 'none', bzp: 'none', extreme: true },
  { name: 'K = 1000, all 255 (sum 65,025,000 > 2^24; A split into base-16 digits)', m: 2, k: 1000, n: 3, aType: U8, bType: U8, azp: 'none', bzp: 'none', extreme: true },
  { name: 'K = 1000, int8 -128 against zero point 127 (|q - zp| = 255)', m: 3, k: 1000, n: 2, aType: I8, bType: I8, azp: 'tensor', bzp: 'tensor', extreme: true },
  { name: 'K = 1000, random uint8 x int8', m: 7, k: 1000, n: 9, aType: U8, bType: I8, azp: 'tensor', bzp: 'column' },
];

for (const c of cases) {
  test(`MatMulInteger ${c.name}: exact, equal to onnxruntime`, async (t) => {
    const r = rng(c.m * 1000 + c.k * 10 + c.n);
    const [alo, ahi] = range(c.aType);
    const [blo, bhi] = range(c.bType);
    let a = randInts(r, c.m * c.k, alo, ahi);
    let b = randInts(r, c.k * c.n, blo, bhi);
    let azp = c.azp === 'none' ? [] : randInts(r, c.azp === 'row' ? c.m : 1, alo, ahi);
    let bzp = c.bzp === 'none' ? [] : randInts(r, c.bzp === 'column' ? c.n : 1, blo, bhi);
    if (c.extreme) {
      a = a.map(() => (c.aType === U8 ? 255 : -128));
      b = b.map(() => (c.bType === U8 ? 255 : -128));
      azp = azp.map(() => 127);
      bzp = bzp.map(() => 127);
    }
    const spec: NodeSpec = {
      opType: 'MatMulInteger',
      opset: 10,
      inputs: [input('A', c.aType, [c.m, c.k], a), input('B', c.bType, [c.k, c.n], b)],
      outputs: [{ name: 'Y', dataType: DataType.INT32 }],
    };
    if (c.azp !== 'none' || c.bzp !== 'none') spec.inputs.push(c.azp === 'none' ? null : input('azp', c.aType, c.azp === 'row' ? [c.m] : [], azp, true));
    if (c.bzp !== 'none') spec.inputs.push(input('bzp', c.bType, c.bzp === 'column' ? [c.n] : [], bzp, true));
    const res = await compareWithOrt(spec, { allowOrtReject: c.ortRejects });
    if (c.ortRejects) {
      assert.ok(res.ortError, 'onnxruntime now accepts this configuration: drop ortRejects');
      t.diagnostic(`onnxruntime refuses: ${res.ortError.split('\n')[0]}`);
    }
    const ours = await runOurs(singleNodeModel(spec), spec);
    assert.deepEqual(ours.Y!.values, reference(a, b, c.m, c.k, c.n, azp, bzp));
  });
}

test('MatMulInteger batches and broadcasts like MatMul, and takes 1-D operands', async () => {
  const r = rng(5);
  const shapes: [number[], number[], number[]][] = [
    [[2, 3, 4], [4, 5], [2, 3, 5]],
    [[2, 3, 4], [2, 4, 5], [2, 3, 5]],
    [[3, 4], [2, 4, 5], [2, 3, 5]],
    [[4], [4, 5], [5]],
    [[3, 4], [4], [3]],
  ];
  for (const [as, bs, ys] of shapes) {
    const spec: NodeSpec = {
      opType: 'MatMulInteger',
      opset: 10,
      inputs: [input('A', U8, as, randInts(r, as.reduce((p, d) => p * d, 1), 0, 255)), input('B', U8, bs, randInts(r, bs.reduce((p, d) => p * d, 1), 0, 255)), input('azp', U8, [], [3], true), input('bzp', U8, [], [250], true)],
      outputs: [{ name: 'Y', dataType: DataType.INT32 }],
    };
    await compareWithOrt(spec);
    const ours = await runOurs(singleNodeModel(spec), spec);
    assert.deepEqual(ours.Y!.dims, ys);
  }
});
