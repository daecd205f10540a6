import { test } from 'node:test';
import { DataType } from '../../../src/core/dtype.js';
import { checkOp } from './shapeHarness.js';

test('NonZero on float and bool tensors', async () => {
  const out = [{ name: 'y', dataType: DataType.INT64 }];
  await checkOp('NonZero', 13, [{ name: 'x', dataType: DataType.FLOAT, dims: [2, 3, 2], data: Float32Array.of(0, 1, 0, 0, 2, 3, 0, 0, 0, 4, 0, -1) }], [], out);
  await checkOp('NonZero', 13, [{ name: 'x', dataType: DataType.BOOL, dims: [4], data: Uint8Array.of(1, 0, 1, 1) }], [], out);
  await checkOp('NonZero', 13, [{ name: 'x', dataType: DataType.FLOAT, dims: [2, 2], data: new Float32Array(4) }], [], out);
});
