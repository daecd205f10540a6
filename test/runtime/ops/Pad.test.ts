import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { makeAttr } from '../../../src/ir/attribute.js';
import { Graph, Model, Tensor } from '../../../src/ir/index.js';
import { Session } from '../../../src/runtime/session.js';
import { RTensor } from '../../../src/runtime/value.js';
import { checkOp, f32, floatAttr, i64, intAttr } from './shapeHarness.js';
import { testBackend } from '../../helpers/backend.js';

const mode = (m: string) => makeAttr('mode', m);

test('Pad (opset 13): constant, reflect and edge, with negative pads, on tfjs and host data', async () => {
  const c = { name: 'c', dataType: DataType.FLOAT, dims: [], data: Float32Array.of(2.5), init: true };
  for (const m of ['constant', 'reflect', 'edge']) {
    await checkOp('Pad', 13, [f32('x', [2, 3, 20, 30]), i64('p', [0, 0, 3, -2, 0, 1, 4, 5])], [mode(m)]);
    await checkOp('Pad', 13, [f32('x', [3, 4]), i64('p', [2, -1, 1, 2]), c], [mode(m)]);
  }
  await checkOp('Pad', 13, [i64('x', [1, 2, 3, 2n ** 40n], [2, 2], false), i64('p', [1, 0, 0, 2])], [], [{ name: 'y', dataType: DataType.INT64 }]);
});

test('Pad: attributes at opset 2, axes input at 18, wrap mode at 19', async () => {
  await checkOp('Pad', 2, [f32('x', [3, 4])], [intAttr('pads', [1, 2, 0, 1]), floatAttr('value', 1.5)]);
  await checkOp('Pad', 2, [f32('x', [3, 4])], [intAttr('pads', [1, 2, 2, 1]), mode('reflect')]);
  await checkOp('Pad', 18, [f32('x', [2, 30, 40]), i64('p', [1, 2, 3, 4]), null, i64('a', [-1, 1])], [mode('edge')]);
  await checkOp('Pad', 18, [f32('x', [2, 3, 4]), i64('p', [1, 2]), null, i64('a', [0])]);
  await checkOp('Pad', 19, [f32('x', [2, 3, 4]), i64('p', [0, 2, 3, 0, 1, 4])], [mode('wrap')]);
  await checkOp('Pad', 19, [f32('x', [2, 30, 40]), i64('p', [0, 2, 5, 0, 1, 6])], [mode('wrap')]);
});

test('Pad wrap wider than the axis repeats it periodically (numpy.pad mode wrap; onnxruntime 1.30 zero-fills there)', async () => {
  const g = new Graph('g');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: [3] });
  const p = g.addInitializer('p', new Tensor(DataType.INT64, [2], BigInt64Array.of(5n, 4n)));
  const n = g.createNode({ opType: 'Pad', inputs: [x, p], outputs: ['y'], attributes: [mode('wrap')] });
  g.outputs.push(n.output(0)!);
  const s = await Session.create(new Model(g, 9, [{ domain: '', version: 19 }]), { backend: testBackend });
  const y = s.runSync({ x: RTensor.fromHost(DataType.FLOAT, [3], Float32Array.of(1, 2, 3)) }).get('y')!;
  assert.deepEqual(y.numbers(), [2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1]);
});
