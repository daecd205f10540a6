import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, Model, Tensor } from '../../../src/ir/index.js';
import { Session } from '../../../src/runtime/session.js';
import { DataType } from '../../../src/core/dtype.js';
import { checkOp, i64 } from './shapeHarness.js';
import { testBackend } from '../../helpers/backend.js';

const scalar = (name: string, v: number) => ({ name, dataType: DataType.FLOAT, dims: [], data: Float32Array.of(v), init: true });

test('Range: float and int64 (exact beyond 2^53), positive, negative and empty', async () => {
  await checkOp('Range', 11, [scalar('s', 1), scalar('l', 5.5), scalar('d', 0.25)]);
  await checkOp('Range', 11, [scalar('s', 3), scalar('l', -4), scalar('d', -1.5)]);
  await checkOp('Range', 11, [scalar('s', 3), scalar('l', 1), scalar('d', 1)]);
  const out = [{ name: 'y', dataType: DataType.INT64 }];
  await checkOp('Range', 11, [i64('s', [10], []), i64('l', [-3], []), i64('d', [-4], [])], [], out);
});

test('Range on int64 stays exact beyond 2^53 (onnxruntime 1.30 counts in doubles and returns nothing here)', async () => {
  const g = new Graph('g');
  const [s, l, d] = [2n ** 60n, 2n ** 60n + 10n, 3n].map((v, i) => g.addInitializer(`c${i}`, new Tensor(DataType.INT64, [], BigInt64Array.of(v))));
  const n = g.createNode({ opType: 'Range', inputs: [s!, l!, d!], outputs: ['y'] });
  g.outputs.push(n.output(0)!);
  const session = await Session.create(new Model(g, 8, [{ domain: '', version: 11 }]), { backend: testBackend });
  const y = session.runSync({}).get('y')!;
  assert.deepEqual(Array.from(y.host() as BigInt64Array), [0n, 3n, 6n, 9n].map((k) => 2n ** 60n + k));
});
