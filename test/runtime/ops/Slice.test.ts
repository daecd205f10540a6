import { test } from 'node:test';
import { checkOp, f32, i64, intAttr } from './shapeHarness.js';

const MAX = 2n ** 63n - 1n;
const MIN = -(2n ** 63n);

test('Slice (opset 13): steps, negative steps and INT64 bounds on tfjs and host data', async () => {
  await checkOp('Slice', 13, [f32('x', [20, 30, 4]), i64('s', [1, -1, 0]), i64('e', [MAX, MIN, 4]), i64('a', [0, 1, 2]), i64('p', [3, -2, 1])]);
  await checkOp('Slice', 13, [f32('x', [20, 30, 4]), i64('s', [2, 5]), i64('e', [-3, 25]), i64('a', [-3, 1])]);
  await checkOp('Slice', 13, [f32('x', [5, 6]), i64('s', [MAX, 0]), i64('e', [MIN, 6]), i64('a', [0, 1]), i64('p', [-1, 2])]);
  await checkOp('Slice', 13, [f32('x', [5, 6]), i64('s', [3]), i64('e', [1]), i64('a', [1])]);
});

test('Slice (opset 1): starts, ends and axes as attributes', async () => {
  await checkOp('Slice', 9, [f32('x', [20, 30, 4])], [intAttr('starts', [1, -10]), intAttr('ends', [1000, -1]), intAttr('axes', [0, 1])]);
  await checkOp('Slice', 9, [f32('x', [4, 5])], [intAttr('starts', [0, 1]), intAttr('ends', [2, 4])]);
});
