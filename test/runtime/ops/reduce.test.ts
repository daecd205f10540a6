import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { assertClose, assertExact, backends, device, host, run1, useBackend } from './opHarness.js';

const { FLOAT, INT64, INT32, BOOL } = DataType;

/** 2x3x4 values 0..23 with a few negatives. */
const vals = Array.from({ length: 24 }, (_, i) => (i % 5 === 0 ? -i : i) / 4);

/** Reference reduction over axes of a [2,3,4] array. */
function ref(f: (xs: number[]) => number, axes: number[]): number[] {
  const groups = new Map<string, number[]>();
  for (let i = 0; i < 24; i++) {
    const idx = [Math.floor(i / 12), Math.floor(i / 4) % 3, i % 4];
    const key = idx.map((v, a) => (axes.includes(a) ? 0 : v)).join(',');
    const g = groups.get(key) ?? [];
    g.push(vals[i]!);
    groups.set(key, g);
  }
  return [...groups.values()].map(f);
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const fns: Record<string, (xs: number[]) => number> = {
  ReduceSum: sum,
  ReduceMean: (xs) => sum(xs) / xs.length,
  ReduceMax: (xs) => Math.max(...xs),
  ReduceMin: (xs) => Math.min(...xs),
  ReduceProd: (xs) => xs.reduce((a, b) => a * b, 1),
  ReduceSumSquare: (xs) => sum(xs.map((x) => x * x)),
  ReduceL2: (xs) => Math.sqrt(sum(xs.map((x) => x * x))),
  ReduceLogSumExp: (xs) => Math.log(sum(xs.map(Math.exp))),
};

for (const b of backends) {
  test(`every Reduce op: axes attribute (opset 13) and axes input (opset 18, ReduceSum 13) agree with a reference (${b})`, async () => {
    await useBackend(b);
    const x = device(FLOAT, [2, 3, 4], vals);
    for (const [op, f] of Object.entries(fns)) {
      const inputSince = op === 'ReduceSum' ? 13 : 18;
      const attrSet = op === 'ReduceSum' ? 11 : 13;
      const want = ref(f, [0, 2]);
      assertClose(run1(op, attrSet, [x], { axes: [0, -1] }), FLOAT, [1, 3, 1], want, 1e-5, 1e-5);
      assertClose(run1(op, inputSince, [x, host(INT64, [2], [2n, 0n])], { keepdims: 0 }), FLOAT, [3], want, 1e-5, 1e-5);
      // No axes: every axis (a scalar with keepdims=0).
      assertClose(run1(op, inputSince, [x], { keepdims: 0 }), FLOAT, [], ref(f, [0, 1, 2]), 1e-5, 1e-5);
    }
  });

  test(`noop_with_empty_axes makes an empty axes input an identity (${b})`, async () => {
    await useBackend(b);
    const x = device(FLOAT, [2, 3, 4], vals);
    const id = run1('ReduceSum', 13, [x, host(INT64, [0], [])], { noop_with_empty_axes: 1 });
    assert.notEqual(id, x);
    assertClose(id, FLOAT, [2, 3, 4], vals, 0, 0);
    assertClose(run1('ReduceMax', 18, [x, null], { noop_with_empty_axes: 1 }), FLOAT, [2, 3, 4], vals, 0, 0);
    assertClose(run1('ReduceSum', 13, [x, host(INT64, [0], [])]), FLOAT, [1, 1, 1], [sum(vals)], 1e-5, 1e-5);
  });

  test(`reducing an empty set gives onnxruntime's identities, not backend garbage (${b})`, async () => {
    await useBackend(b);
    const e = device(FLOAT, [2, 0], []);
    const one = (op: string) => run1(op, 11, [e], { axes: [1], keepdims: 0 });
    assertClose(one('ReduceSum'), FLOAT, [2], [0, 0]);
    assertClose(one('ReduceProd'), FLOAT, [2], [1, 1]);
    assertClose(one('ReduceMax'), FLOAT, [2], [-Infinity, -Infinity]);
    assertClose(one('ReduceMin'), FLOAT, [2], [Infinity, Infinity]);
    assertClose(one('ReduceMean'), FLOAT, [2], [0, 0]);
    assertClose(one('ReduceLogSumExp'), FLOAT, [2], [-Infinity, -Infinity]);
    assertClose(one('ReduceL2'), FLOAT, [2], [0, 0]);
    assertExact(run1('ReduceMax', 13, [host(INT64, [2, 0], [])], { axes: [1], keepdims: 0 }), INT64, [2], [-(2n ** 63n), -(2n ** 63n)]);
  });

  test(`integer reductions on the host are exact (int64 shape products) (${b})`, async () => {
    await useBackend(b);
    const shape = host(INT64, [4], [2n ** 31n, 2n ** 31n, 3n, 1n]);
    const prod = run1('ReduceProd', 13, [shape], { keepdims: 0 });
    assert.equal(prod.onDevice, false);
    assertExact(prod, INT64, [], [BigInt.asIntN(64, 3n * 2n ** 62n)]);
    assertExact(run1('ReduceSum', 13, [host(INT64, [2, 2], [2n ** 60n, 1n, 2n ** 60n, 2n])], { keepdims: 1 }), INT64, [1, 1], [2n ** 61n + 3n]);
    const m = host(INT32, [2, 3], [1, 2, 2, -3, -4, 16777217]);
    assertExact(run1('ReduceMax', 13, [m], { axes: [1] }), INT32, [2, 1], [2, 16777217]);
    assertExact(run1('ReduceMin', 18, [m, host(INT64, [1], [0n])], { keepdims: 0 }), INT32, [3], [-3, -4, 2]);
    // Integer mean truncates (onnxruntime: [1, 2, 2, -3, -4] -> 0).
    assertExact(run1('ReduceMean', 13, [host(INT32, [5], [1, 2, 2, -3, -4])], { keepdims: 0 }), INT32, [], [0]);
    assertExact(run1('ReduceSumSquare', 13, [host(INT64, [2], [3n, 2n ** 31n])], { keepdims: 0 }), INT64, [], [9n + 2n ** 62n]);
    assertExact(run1('ReduceMax', 20, [host(BOOL, [2, 2], [0, 1, 0, 0]), host(INT64, [1], [1n])], { keepdims: 0 }), BOOL, [2], [1, 0]);
    assertExact(run1('ReduceMax', 20, [device(BOOL, [2, 2], [0, 1, 0, 0]), host(INT64, [1], [1n])], { keepdims: 0 }), BOOL, [2], [1, 0]);
  });

  test(`ReduceLogSumExp is stable for large inputs (${b})`, async () => {
    await useBackend(b);
    assertClose(run1('ReduceLogSumExp', 13, [device(FLOAT, [2, 2], [1000, 1000, -1000, -1000])], { axes: [1], keepdims: 0 }), FLOAT, [2], [1000 + Math.LN2, -1000 + Math.LN2], 1e-6, 1e-3);
  });

  test(`ArgMax / ArgMin: int64 indices, first or last of ties, keepdims, NaN as the extreme (${b})`, async () => {
    await useBackend(b);
    const t = [1, 3, 3, 2, 5, 0, 5, 0];
    for (const place of [host, device]) {
      const x = place(b === 'cpu' ? INT32 : FLOAT, [2, 4], t);
      assertExact(run1('ArgMax', 13, [x], { axis: 1 }), INT64, [2, 1], [1n, 0n]);
      assertExact(run1('ArgMax', 13, [x], { axis: 1, select_last_index: 1, keepdims: 0 }), INT64, [2], [2n, 2n]);
      assertExact(run1('ArgMin', 13, [x], { axis: -1, keepdims: 0 }), INT64, [2], [0n, 1n]);
      assertExact(run1('ArgMin', 13, [x], { axis: 1, select_last_index: 1, keepdims: 0 }), INT64, [2], [0n, 3n]);
      assertExact(run1('ArgMax', 11, [x], { axis: 0 }), INT64, [1, 4], [1n, 0n, 1n, 0n]);
    }
    // onnxruntime returns the NaN's index (numpy does too); tfjs alone would skip it.
    assertExact(run1('ArgMax', 13, [device(FLOAT, [4], [1, NaN, 3, 2])], { axis: 0, keepdims: 0 }), INT64, [], [1n]);
    assertExact(run1('ArgMin', 13, [device(FLOAT, [4], [1, NaN, -3, 2])], { axis: 0, keepdims: 0 }), INT64, [], [1n]);
    assertExact(run1('ArgMax', 13, [host(INT64, [3], [2n ** 60n, 2n ** 60n + 1n, 0n])], { axis: 0, keepdims: 0 }), INT64, [], [1n]);
  });
}
