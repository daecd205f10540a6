import { test } from 'node:test';
import { DataType } from '../../../src/core/dtype.js';
import { checkOp, f32, i64, intAttr } from './shapeHarness.js';

const outs = [
  { name: 'v', dataType: DataType.FLOAT },
  { name: 'i', dataType: DataType.INT64 },
];

test('TopK: largest and smallest, any axis, ties by lower index, k as attribute (opset 1) and input', async () => {
  await checkOp('TopK', 11, [f32('x', [4, 30000]), i64('k', [5])], [intAttr('axis', 1)], outs);
  await checkOp('TopK', 11, [f32('x', [300, 3, 100]), i64('k', [7])], [intAttr('axis', 0)], outs);
  await checkOp('TopK', 11, [f32('x', [3, 40]), i64('k', [6])], [intAttr('axis', -1), intAttr('largest', 0)], outs);
  const ties = { name: 'x', dataType: DataType.FLOAT, dims: [2, 6], data: Float32Array.of(1, 3, 3, 2, 3, 1, 0, 0, 0, 0, 0, 0) };
  await checkOp('TopK', 11, [ties, i64('k', [4])], [], outs);
  await checkOp('TopK', 11, [ties, i64('k', [4])], [intAttr('largest', 0)], outs);
  await checkOp('TopK', 9, [f32('x', [5, 8])], [intAttr('k', 3), intAttr('axis', 0)], outs);
});
