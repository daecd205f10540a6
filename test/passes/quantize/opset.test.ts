import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttr } from '../../../src/ir/attribute.js';
import { Graph, Model, Tensor } from '../../../src/ir/index.js';
import { planOpsetUpgrade, upgradeOpset } from '../../../src/passes/shared/opset.js';
import { floatInput, markOutput, randn, relDiff, runOrt } from './helpers.js';

/** An opset-9 model with the ops whose attributes became inputs: Clip, Slice, Squeeze, Unsqueeze, ReduceMean, Softmax. */
function oldModel(): Model {
  const g = new Graph('old');
  const x = floatInput(g, 'x', [2, 3, 4]);
  const clip = g.createNode({ opType: 'Clip', inputs: [x], outputs: ['c'], attributes: [makeAttr('min', -0.5, 'float'), makeAttr('max', 0.7, 'float')] });
  const sl = g.createNode({ opType: 'Slice', inputs: [clip.output(0)], outputs: ['s'], attributes: [makeAttr('starts', [1]), makeAttr('ends', [3]), makeAttr('axes', [1])] });
  const un = g.createNode({ opType: 'Unsqueeze', inputs: [sl.output(0)], outputs: ['u'], attributes: [makeAttr('axes', [0])] });
  const sq = g.createNode({ opType: 'Squeeze', inputs: [un.output(0)], outputs: ['q'], attributes: [makeAttr('axes', [0])] });
  const rm = g.createNode({ opType: 'ReduceMean', inputs: [sq.output(0)], outputs: ['m'], attributes: [makeAttr('axes', [2]), makeAttr('keepdims', 1)] });
  const sub = g.createNode({ opType: 'Sub', inputs: [sq.output(0), rm.output(0)], outputs: ['d'] });
  const sm = g.createNode({ opType: 'Softmax', inputs: [sub.output(0)], outputs: ['y'], attributes: [makeAttr('axis', 1)] });
  const w = g.addInitializer('W', Tensor.float32([4, 2], randn(8, 1)));
  const mm = g.createNode({ opType: 'MatMul', inputs: [sm.output(0), w], outputs: ['z'] });
  markOutput(g, mm.output(0)!, [2, 2, 2]);
  return new Model(g, 4, [{ domain: '', version: 9 }]);
}

test('raising opset 9 to 21 rewrites attribute-style ops and keeps the results', async () => {
  const feeds = { x: { data: randn(24, 5), dims: [2, 3, 4] } };
  const ref = await runOrt(oldModel(), feeds);
  for (const to of [13, 21]) {
    const m = oldModel();
    const plan = planOpsetUpgrade(m, to);
    assert.deepEqual(plan.blockers, []);
    assert.deepEqual(plan.rewrites, to === 13 ? { Clip: 1, Slice: 1, Unsqueeze: 1, Squeeze: 1, Softmax: 1 } : { Clip: 1, Slice: 1, Unsqueeze: 1, Squeeze: 1, ReduceMean: 1, Softmax: 1 });
    upgradeOpset(m, to);
    assert.equal(m.opset(''), to);
    const got = await runOrt(m, feeds);
    assert.ok(relDiff(got.z!, ref.z!) < 1e-6, `opset ${to}`);
  }
});

test('an Upsample blocks the upgrade', () => {
  const m = oldModel();
  const g = m.graph;
  const scales = g.addInitializer('scales', Tensor.float32([3], [1, 2, 2]));
  g.createNode({ opType: 'Upsample', name: 'up', inputs: [g.value('z')!, scales], outputs: ['up'] });
  const plan = planOpsetUpgrade(m, 13);
  assert.equal(plan.blockers.length, 1);
  assert.match(plan.blockers[0]!, /'up' \(Upsample\)/);
  assert.throws(() => upgradeOpset(m, 13));
});
