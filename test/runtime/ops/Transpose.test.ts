import { test } from 'node:test';
import { checkOp, f32, i64, intAttr } from './shapeHarness.js';

test('Transpose matches onnxruntime on tfjs and host data, int64 exactly', async () => {
  await checkOp('Transpose', 13, [f32('x', [6, 20, 12])], [intAttr('perm', [2, 0, 1])]);
  await checkOp('Transpose', 13, [f32('x', [2, 3, 4, 5])], [intAttr('perm', [3, 1, 0, 2])]);
  await checkOp('Transpose', 13, [f32('x', [3, 4, 5])]);
  await checkOp('Transpose', 13, [i64('x', [1, 2, 3, 4, 5, 2n ** 40n], [2, 3], false)], [intAttr('perm', [1, 0])], [{ name: 'y', dataType: 7 }]);
});
