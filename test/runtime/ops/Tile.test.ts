import { test } from 'node:test';
import { checkOp, f32, i64 } from './shapeHarness.js';

test('Tile on tfjs and host data, with zero repeats', async () => {
  await checkOp('Tile', 13, [f32('x', [10, 30, 5]), i64('r', [2, 1, 3])]);
  await checkOp('Tile', 13, [f32('x', [2, 3]), i64('r', [3, 2])]);
  await checkOp('Tile', 13, [f32('x', [2, 3]), i64('r', [0, 2])]);
  await checkOp('Tile', 6, [f32('x', [40, 40]), i64('r', [1, 2])]);
});
