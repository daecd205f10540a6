import { test } from 'node:test';
import { DataType } from '../../../src/core/dtype.js';
import { checkOp, f32, i64, intAttr } from './shapeHarness.js';

const outs = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `y${i}`, dataType: DataType.FLOAT }));

test('Split: attribute sizes (opset 11), input sizes (13), equal parts, num_outputs (18) on tfjs and host data', async () => {
  await checkOp('Split', 11, [f32('x', [10, 200])], [intAttr('axis', 0), intAttr('split', [2, 3, 5])], outs(3));
  await checkOp('Split', 13, [f32('x', [6, 50, 4]), i64('s', [10, 0, 40])], [intAttr('axis', 1)], outs(3));
  await checkOp('Split', 13, [f32('x', [4, 6])], [intAttr('axis', -1)], outs(3));
  // num_outputs 3 over 10: ceil(10/3) = 4, so parts of 4, 4 and 2.
  await checkOp('Split', 18, [f32('x', [10, 300])], [intAttr('axis', 0), intAttr('num_outputs', 3)], outs(3));
  await checkOp('Split', 18, [f32('x', [3, 7])], [intAttr('axis', 1), intAttr('num_outputs', 4)], outs(4));
});
