import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { f32, matchOrt, nnBackends, outs, seeded, values, type NodeSpec } from './nnHarness.js';
import { testBackend } from '../../helpers/backend.js';

const cases: { name: string; a: number[]; b: number[]; constB?: boolean }[] = [
  { name: '2-D', a: [7, 5], b: [5, 3] },
  { name: '3-D @ 2-D constant weight (one 2-D product)', a: [2, 6, 8], b: [8, 5], constB: true },
  { name: 'equal batches, small (batched kernel)', a: [3, 4, 5], b: [3, 5, 2] },
  { name: 'equal batches, large (2-D loop on wasm)', a: [3, 64, 64], b: [3, 64, 64] },
  { name: 'attention heads [2, 6, 96, 32] @ [2, 6, 32, 96] (host-cut 2-D loop at inference on wasm)', a: [2, 6, 96, 32], b: [2, 6, 32, 96] },
  { name: 'broadcast [2,1] against [1,3] batches', a: [2, 1, 4, 5], b: [1, 3, 5, 6] },
  { name: 'broadcast [2,1] against [1,3] batches, large (2-D loop on wasm)', a: [2, 1, 96, 64], b: [1, 3, 64, 96] },
  { name: '2-D A against batched B', a: [4, 5], b: [3, 5, 6] },
  { name: '2-D A against batched B, large', a: [40, 30], b: [3, 30, 40] },
  { name: '1-D @ 3-D', a: [5], b: [2, 5, 3] },
  { name: '3-D @ 1-D', a: [2, 3, 5], b: [5] },
  { name: '1-D @ 1-D', a: [6], b: [6] },
  { name: 'rank 4 with batch 1 on A', a: [1, 2, 3, 4], b: [3, 2, 4, 5] },
];

for (const c of cases) {
  for (const backend of nnBackends) {
    test(`MatMul ${c.name} on ${backend}: matches onnxruntime`, async () => {
      const r = seeded(c.name);
      const spec: NodeSpec = { opType: 'MatMul', opset: 13, inputs: [f32(r, 'a', c.a), f32(r, 'b', c.b, c.constB)], outputs: outs(1) };
      await matchOrt(spec, backend, 1e-5);
    });
  }
}

for (const [name, dt] of [
  ['int32', DataType.INT32],
  ['int64', DataType.INT64],
] as const) {
  test(`MatMul ${name} with batch broadcasting: exact, equal to onnxruntime`, async () => {
    const r = seeded(name);
    const ints = (n: number) => Array.from({ length: n }, () => Math.floor(r() * 2001) - 1000);
    const arr = (n: number) => (dt === DataType.INT64 ? BigInt64Array.from(ints(n), BigInt) : Int32Array.from(ints(n)));
    const spec: NodeSpec = {
      opType: 'MatMul',
      opset: 13,
      inputs: [values('a', dt, [2, 1, 3, 4], arr(24)), values('b', dt, [3, 4, 2], arr(24))],
      outputs: outs(1, dt),
    };
    await matchOrt(spec, testBackend);
  });
}

test('a streamed weight is multiplied a slab of rows at a time (partial products summed), float32 and float16 alike, with the same result as whole', async () => {
  const { initBackend, tf } = await import('../../../src/runtime/backend.js');
  const { RTensor } = await import('../../../src/runtime/value.js');
  const { streamedMatMul } = await import('../../../src/runtime/ops/MatMul.js');
  const { float32ToFloat16Array, float16ToFloat32Array } = await import('../../../src/core/float16.js');
  await initBackend('wasm', { debug() {}, info() {}, warn() {} });
  const r = seeded('streamed');
  const [K, N] = [48, 37];
  const a = Float32Array.from({ length: 2 * 3 * K }, () => r() - 0.5);
  const w = Float32Array.from({ length: K * N }, () => r() - 0.5);
  const h = float32ToFloat16Array(w);
  for (const [label, b, dense] of [
    ['float32', RTensor.fromHost(DataType.FLOAT, [K, N], w), w],
    ['float16', RTensor.fromHost(DataType.FLOAT16, [K, N], h), float16ToFloat32Array(h)],
  ] as const) {
    b.owned = false;
    const at = RTensor.fromHost(DataType.FLOAT, [2, 3, K], a);
    // 4 * N * 10 bytes: slabs of 10 rows, the last one of 8.
    const got = streamedMatMul(at, b, 4 * N * 10);
    const want = tf.tidy(() => tf.matMul(tf.tensor2d(a, [6, K]), tf.tensor2d(dense, [K, N])).dataSync() as Float32Array);
    assert.deepEqual(got.dims, [2, 3, N], label);
    const y = got.float32();
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(y[i]! - want[i]!) <= 1e-5, `${label}: element ${i}: ${y[i]} vs ${want[i]}`);
    assert.equal(b.onDevice, false, `${label}: the whole weight never went to tfjs`);
    got.dispose();
  }
});
