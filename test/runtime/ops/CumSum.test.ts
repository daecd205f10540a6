import { test } from 'node:test';
import { DataType } from '../../../src/core/dtype.js';
import { checkOp, f32, i64, intAttr } from './shapeHarness.js';

test('CumSum: exclusive and reverse on tfjs float data and host int64 data', async () => {
  for (const [exclusive, reverse] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) {
    const attrs = [intAttr('exclusive', exclusive), intAttr('reverse', reverse)];
    await checkOp('CumSum', 14, [f32('x', [20, 60]), i64('a', [1], [])], attrs, undefined, 1e-5);
    await checkOp('CumSum', 14, [i64('x', [1, 2, 3, 2n ** 40n, 5, 6], [2, 3], false), i64('a', [-2], [])], attrs, [{ name: 'y', dataType: DataType.INT64 }]);
  }
});
