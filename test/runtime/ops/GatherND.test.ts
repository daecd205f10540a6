import { test } from 'node:test';
import { checkOp, f32, i64, intAttr } from './shapeHarness.js';

test('GatherND: element and slice tuples, batch_dims 1, tfjs and host data', async () => {
  await checkOp('GatherND', 13, [f32('x', [20, 30, 8]), i64('i', [0, 0, 19, 29, -1, 3], [3, 2])]);
  await checkOp('GatherND', 13, [f32('x', [20, 30, 8]), i64('i', [4, 0, 19], [3, 1])]);
  await checkOp('GatherND', 13, [f32('x', [4, 30, 20]), i64('i', [1, 2, 3, 19, 0, 0, 7, 7], [4, 1, 2])], [intAttr('batch_dims', 1)]);
  await checkOp('GatherND', 12, [f32('x', [2, 2, 2]), i64('i', [1, 0], [2, 1])], [intAttr('batch_dims', 1)]);
});
