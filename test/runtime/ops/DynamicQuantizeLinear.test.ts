import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { compareWithOrt, input, randFloats, rng, runOurs, singleNodeModel, type NodeSpec } from './quantHarness.js';

function spec(dims: number[], x: ArrayLike<number>): NodeSpec {
  return {
    opType: 'DynamicQuantizeLinear',
    opset: 11,
    inputs: [input('x', DataType.FLOAT, dims, x)],
    outputs: [
      { name: 'y', dataType: DataType.UINT8 },
      { name: 'y_scale', dataType: DataType.FLOAT },
      { name: 'y_zero_point', dataType: DataType.UINT8 },
    ],
  };
}

const r = rng(7);
const cases: [string, number[], ArrayLike<number>][] = [
  ['mixed signs', [3, 17], randFloats(r, 51, -3, 5)],
  ['all positive (range extended down to 0)', [40], randFloats(r, 40, 0.5, 9)],
  ['all negative (range extended up to 0)', [2, 2, 5], randFloats(r, 20, -7, -0.1)],
  ['all zeros (onnxruntime uses scale 1)', [6], new Float32Array(6)],
  ['the ONNX test values', [6], [0, 2, -3, -2.5, 1.34, 0.5]],
  ['large tensor', [64, 300], randFloats(r, 64 * 300, -100, 20)],
];

for (const [name, dims, x] of cases) {
  test(`DynamicQuantizeLinear ${name}: y, scale and zero point equal onnxruntime's exactly`, async () => {
    const res = await compareWithOrt(spec(dims, x), { tol: 0 });
    assert.equal(res.rel, 0);
  });
}

test('DynamicQuantizeLinear follows the spec formula (range includes 0, round half to even)', async () => {
  const s = spec([6], [0, 2, -3, -2.5, 1.34, 0.5]);
  const out = await runOurs(singleNodeModel(s), s);
  // From the ONNX backend test: scale = 5 / 255, zero point = round(3 / scale) = 153.
  assert.ok(Math.abs(out.y_scale!.values[0]! - 5 / 255) < 1e-8);
  assert.deepEqual(out.y_zero_point!.values, [153]);
  assert.deepEqual(out.y!.values, [153, 255, 0, 26, 221, 179]);
});
