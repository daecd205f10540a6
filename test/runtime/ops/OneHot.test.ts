import { test } from 'node:test';
import { DataType } from '../../../src/core/dtype.js';
import { checkOp, i64, intAttr } from './shapeHarness.js';

test('OneHot: negative and out-of-range indices, axes, int64 values', async () => {
  const vals = { name: 'v', dataType: DataType.FLOAT, dims: [2], data: Float32Array.of(-1, 3), init: true };
  await checkOp('OneHot', 11, [i64('i', [0, 4, -1, 9, 2, -7], [2, 3], false), i64('d', [5], []), vals], [intAttr('axis', 1)]);
  await checkOp('OneHot', 11, [i64('i', [0, 4, -1], [3], false), i64('d', [5], []), vals]);
  await checkOp('OneHot', 11, [i64('i', [1, 2], [2], false), i64('d', [3], []), i64('v', [0, 2n ** 40n])], [intAttr('axis', 0)], [{ name: 'y', dataType: DataType.INT64 }]);
});
