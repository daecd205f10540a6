import { test } from 'node:test';
import { makeAttr } from '../../../src/ir/attribute.js';
import { checkOp, f32, i64, intAttr } from './shapeHarness.js';

test('ScatterElements: replace (tfjs and host), add and mul (16), max and min (18), negative indices', async () => {
  const rows = Array.from({ length: 40 }, (_, j) => (j * 7) % 50);
  await checkOp('ScatterElements', 13, [f32('x', [50, 40], 1), i64('i', rows, [1, 40]), f32('u', [1, 40], 2)], [intAttr('axis', 0)]);
  const cols = Array.from({ length: 30 * 10 }, (_, k) => ((Math.floor(k / 10) + 6 * (k % 10)) % 60) - 30);
  await checkOp('ScatterElements', 13, [f32('x', [30, 60], 1), i64('i', cols, [30, 10]), f32('u', [30, 10], 2)], [intAttr('axis', 1)]);
  await checkOp('ScatterElements', 16, [f32('x', [3, 4], 1), i64('i', [0, 0, 2, 1, 1, 1], [2, 3]), f32('u', [2, 3], 2)], [intAttr('axis', 1), makeAttr('reduction', 'add')]);
  await checkOp('ScatterElements', 16, [f32('x', [3, 4], 1), i64('i', [0, 0, 2, -1], [1, 4]), f32('u', [1, 4], 2)], [intAttr('axis', 0), makeAttr('reduction', 'mul')]);
  await checkOp('ScatterElements', 18, [f32('x', [3, 4], 1), i64('i', [0, 0, 2], [1, 3]), f32('u', [1, 3], 2)], [intAttr('axis', 1), makeAttr('reduction', 'max')]);
  await checkOp('ScatterElements', 18, [f32('x', [3, 4], 1), i64('i', [1, 1, 1], [1, 3]), f32('u', [1, 3], 2)], [intAttr('axis', 1), makeAttr('reduction', 'min')]);
});
