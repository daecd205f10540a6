import { test } from 'node:test';
import { checkOp, f32, i64, intAttr } from './shapeHarness.js';

test('Reshape: 0 copies a dim, -1 infers one, allowzero (14) keeps a literal 0, the attribute form (opset 1)', async () => {
  await checkOp('Reshape', 13, [f32('x', [4, 30, 10]), i64('s', [0, -1, 5])]);
  await checkOp('Reshape', 14, [f32('x', [0, 3, 4]), i64('s', [3, 4, 0])], [intAttr('allowzero', 1)]);
  await checkOp('Reshape', 14, [f32('x', [2, 3, 4]), i64('s', [0, 0, 4])], [intAttr('allowzero', 0)]);
  await checkOp('Reshape', 1, [f32('x', [2, 3, 4])], [intAttr('shape', [4, -1])]);
});

test('Squeeze and Unsqueeze: axes as attributes (opset 11) and inputs (13), negative axes', async () => {
  await checkOp('Squeeze', 11, [f32('x', [1, 3, 1, 5])], [intAttr('axes', [-2])]);
  await checkOp('Squeeze', 13, [f32('x', [1, 3, 1, 5])]);
  await checkOp('Squeeze', 13, [f32('x', [1, 3, 1, 5]), i64('a', [0, 2])]);
  await checkOp('Unsqueeze', 11, [f32('x', [3, 5])], [intAttr('axes', [0, -1])]);
  await checkOp('Unsqueeze', 13, [f32('x', [3, 5]), i64('a', [3, 1])]);
});

test('Flatten at every axis, negative too', async () => {
  for (const axis of [0, 1, 2, 3, -1, -3]) await checkOp('Flatten', 13, [f32('x', [2, 3, 4, 5])], [intAttr('axis', axis)]);
});
