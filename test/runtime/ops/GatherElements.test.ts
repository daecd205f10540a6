import { test } from 'node:test';
import { checkOp, f32, i64, intAttr, rng } from './shapeHarness.js';

test('GatherElements on axis 0 and -1 with negative indices, tfjs and host data', async () => {
  const r = rng(7);
  const ints = (n: number, dim: number) => Array.from({ length: n }, () => Math.floor(r() * 2 * dim) - dim);
  await checkOp('GatherElements', 13, [f32('x', [40, 30]), i64('i', ints(50 * 30, 40), [50, 30])], [intAttr('axis', 0)]);
  await checkOp('GatherElements', 13, [f32('x', [30, 40]), i64('i', ints(30 * 20, 40), [30, 20])], [intAttr('axis', -1)]);
  await checkOp('GatherElements', 13, [f32('x', [3, 3]), i64('i', [1, 2, 0, 2, 0, -1], [2, 3])], [intAttr('axis', 1)]);
});
