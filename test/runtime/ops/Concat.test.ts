import { test } from 'node:test';
import { checkOp, f32, i64, intAttr } from './shapeHarness.js';

test('Concat matches onnxruntime on tfjs and host data, with empty inputs and int64', async () => {
  await checkOp('Concat', 13, [f32('a', [4, 30, 10], 1), f32('b', [4, 5, 10], 2), f32('c', [4, 0, 10], 3)], [intAttr('axis', -2)]);
  await checkOp('Concat', 13, [f32('a', [2, 3], 1), f32('b', [2, 2], 2)], [intAttr('axis', 1)]);
  await checkOp('Concat', 13, [i64('a', [1, 2], [2], false), i64('b', [2n ** 50n], [1], false)], [intAttr('axis', 0)], [{ name: 'y', dataType: 7 }]);
  await checkOp('Concat', 4, [f32('a', [40, 30], 1), f32('b', [40, 30], 2)], [intAttr('axis', 0)]);
});
