import { test } from 'node:test';
import { makeAttr } from '../../../src/ir/attribute.js';
import { checkOp, f32, intAttr } from './shapeHarness.js';

test('DepthToSpace DCR and CRD, SpaceToDepth, on tfjs and host data', async () => {
  for (const m of ['DCR', 'CRD']) {
    await checkOp('DepthToSpace', 13, [f32('x', [2, 16, 10, 12])], [intAttr('blocksize', 2), makeAttr('mode', m)]);
    await checkOp('DepthToSpace', 13, [f32('x', [1, 9, 2, 3])], [intAttr('blocksize', 3), makeAttr('mode', m)]);
  }
  await checkOp('SpaceToDepth', 13, [f32('x', [2, 3, 20, 12])], [intAttr('blocksize', 2)]);
  await checkOp('SpaceToDepth', 13, [f32('x', [1, 2, 6, 3])], [intAttr('blocksize', 3)]);
});
