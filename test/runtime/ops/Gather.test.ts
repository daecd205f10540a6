import { test } from 'node:test';
import { checkOp, f32, i64, intAttr } from './shapeHarness.js';

test('Gather: an embedding table lookup with negative ids, other axes, and int64 data', async () => {
  await checkOp('Gather', 13, [f32('table', [1000, 16], 1, true), i64('ids', [[3, 999, -1, 0], [5, 5, -1000, 7]].flat(), [2, 4], false)]);
  await checkOp('Gather', 13, [f32('x', [8, 40, 6]), i64('i', [39, 0, -2])], [intAttr('axis', 1)]);
  await checkOp('Gather', 13, [f32('x', [3, 4]), i64('i', [2], [])], [intAttr('axis', 1)]);
  await checkOp('Gather', 13, [i64('shape', [1, 3, 2n ** 40n, 7], [4], false), i64('i', [2], [])], [intAttr('axis', 0)], [{ name: 'y', dataType: 7 }]);
});
