import { test } from 'node:test';
import { checkOp, f32, i64 } from './shapeHarness.js';

test('Expand: broadcasting up, keeping larger input dims, tfjs and host data', async () => {
  await checkOp('Expand', 13, [f32('x', [1, 30, 1]), i64('s', [4, 1, 30, 50])]);
  await checkOp('Expand', 13, [f32('x', [3, 1]), i64('s', [1, 4])]);
  await checkOp('Expand', 13, [f32('x', [2000]), i64('s', [1])]);
  await checkOp('Expand', 8, [f32('x', [3, 1]), i64('s', [2, 1, 6])]);
});
