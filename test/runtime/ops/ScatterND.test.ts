import { test } from 'node:test';
import { DataType } from '../../../src/core/dtype.js';
import { makeAttr } from '../../../src/ir/attribute.js';
import { checkOp, f32, i64 } from './shapeHarness.js';

test('ScatterND: replace (tfjs and host), add and mul (16), max and min (18)', async () => {
  await checkOp('ScatterND', 13, [f32('x', [20, 30, 4], 1), i64('i', [3, 19, 0], [3, 1]), f32('u', [3, 30, 4], 2)]);
  await checkOp('ScatterND', 13, [f32('x', [4, 5], 1), i64('i', [0, 1, 3, 4], [2, 2]), f32('u', [2], 2)]);
  await checkOp('ScatterND', 16, [f32('x', [4, 5], 1), i64('i', [1, 1, 3], [3, 1]), f32('u', [3, 5], 2)], [makeAttr('reduction', 'add')]);
  await checkOp('ScatterND', 16, [f32('x', [40, 50], 1), i64('i', [1, 1, 3], [3, 1]), f32('u', [3, 50], 2)], [makeAttr('reduction', 'mul')]);
  await checkOp('ScatterND', 18, [f32('x', [4, 5], 1), i64('i', [1, 2, 1], [3, 1]), f32('u', [3, 5], 2)], [makeAttr('reduction', 'max')]);
  await checkOp('ScatterND', 18, [i64('x', [1, 2, 3, 4], [4], false), i64('i', [1, 3], [2, 1]), i64('u', [-5, 2n ** 40n], [2], false)], [makeAttr('reduction', 'min')], [{ name: 'y', dataType: DataType.INT64 }]);
});
