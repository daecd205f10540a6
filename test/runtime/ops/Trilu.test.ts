import { test } from 'node:test';
import { checkOp, f32, i64, intAttr } from './shapeHarness.js';

test('Trilu: upper and lower with offsets, batched, tfjs and host data', async () => {
  for (const upper of [0, 1]) {
    await checkOp('Trilu', 14, [f32('x', [3, 30, 40]), i64('k', [-2], [])], [intAttr('upper', upper)]);
    await checkOp('Trilu', 14, [f32('x', [4, 6]), i64('k', [3], [])], [intAttr('upper', upper)]);
    await checkOp('Trilu', 14, [f32('x', [5, 5])], [intAttr('upper', upper)]);
  }
});
