import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/core/dtype.js';
import { Graph, Model, Tensor } from '../../src/ir/index.js';
import { Session } from '../../src/runtime/session.js';
import { RTensor } from '../../src/runtime/value.js';

function reluModel(): Model {
  const g = new Graph('g');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['n', 3] });
  const r1 = g.createNode({ opType: 'Relu', inputs: [x], outputs: ['h'] });
  const r2 = g.createNode({ opType: 'Relu', inputs: [r1.output(0)], outputs: ['y'] });
  g.outputs.push(r2.output(0)!);
  return new Model(g, 8, [{ domain: '', version: 17 }]);
}

test('runs a chain, feeds mid-graph values, observes and frees intermediates', async () => {
  const s = await Session.create(reluModel(), { backend: 'cpu' });
  const out = await s.run({ x: { type: 'float32', data: Float32Array.from([-1, 2, -3]), dims: [1, 3] } });
  assert.deepEqual(Array.from(out.y!.data as Float32Array), [0, 2, 0]);
  const seen: string[] = [];
  const res = s.runSync({ h: RTensor.fromHost(DataType.FLOAT, [1, 3], Float32Array.from([5, -5, 1])) }, { observe: (v) => seen.push(v.name) });
  assert.deepEqual(seen, ['y']);
  assert.deepEqual(Array.from(res.get('y')!.float32()), [5, 0, 1]);
});

test('lists unsupported ops in one error with exit code 3', async () => {
  const m = reluModel();
  const g = m.graph;
  g.createNode({ opType: 'FancyOp', domain: 'x.y', inputs: [g.value('h')!], name: 'f1' });
  await assert.rejects(Session.create(m, { backend: 'cpu' }), (e: Error & { exitCode?: number }) => e.exitCode === 3 && /x\.y\.FancyOp/.test(e.message) && /'f1'/.test(e.message));
  void Tensor;
});
