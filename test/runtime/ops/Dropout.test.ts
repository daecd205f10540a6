import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { Graph, Model, makeAttr } from '../../../src/ir/index.js';
import { Session } from '../../../src/runtime/session.js';
import { RTensor } from '../../../src/runtime/value.js';
import { checkOp, f32, floatAttr } from './shapeHarness.js';
import { testBackend } from '../../helpers/backend.js';

test('Dropout at inference: identity, and an all-kept mask (of the data type before opset 10, bool after)', async () => {
  const y = { name: 'y', dataType: DataType.FLOAT };
  await checkOp('Dropout', 7, [f32('x', [3, 4])], [floatAttr('ratio', 0.3)], [y, { name: 'm', dataType: DataType.FLOAT }]);
  await checkOp('Dropout', 10, [f32('x', [3, 4])], [], [y, { name: 'm', dataType: DataType.BOOL }]);
  const ratio = { name: 'r', dataType: DataType.FLOAT, dims: [], data: Float32Array.of(0.5), init: true };
  const off = { name: 't', dataType: DataType.BOOL, dims: [], data: Uint8Array.of(0), init: true };
  await checkOp('Dropout', 13, [f32('x', [30, 40]), ratio, off], [], [y, { name: 'm', dataType: DataType.BOOL }]);
});

test('Dropout with training_mode true keeps about 1 - ratio of the elements, scaled by 1 / (1 - ratio)', async () => {
  const g = new Graph('g');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: [100, 100] });
  const r = g.addInput('r', { kind: 'tensor', elemType: DataType.FLOAT, shape: [] });
  const t = g.addInput('t', { kind: 'tensor', elemType: DataType.BOOL, shape: [] });
  const d = g.createNode({ opType: 'Dropout', inputs: [x, r, t], outputs: ['y', 'm'], attributes: [makeAttr('seed', 3)] });
  g.outputs.push(d.output(0)!, d.output(1)!);
  const s = await Session.create(new Model(g, 8, [{ domain: '', version: 13 }]), { backend: testBackend });
  const out = s.runSync({
    x: RTensor.fromHost(DataType.FLOAT, [100, 100], new Float32Array(10000).fill(1)),
    r: RTensor.fromHost(DataType.FLOAT, [], Float32Array.of(0.25)),
    t: RTensor.fromHost(DataType.BOOL, [], Uint8Array.of(1)),
  });
  const y = out.get('y')!.numbers();
  const m = out.get('m')!;
  assert.equal(m.dataType, DataType.BOOL);
  const mask = m.numbers();
  const kept = mask.filter((v) => v === 1).length;
  assert.ok(Math.abs(kept / 10000 - 0.75) < 0.03, `kept ${kept} of 10000`);
  y.forEach((v, i) => assert.ok(Math.abs(v - (mask[i] ? 1 / 0.75 : 0)) < 1e-6, `element ${i}: ${v} with mask ${mask[i]}`));
});
