import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../../src/ir/index.js';
import { dequantizeTensor, fromMatMulNBits, quantizeTensor, toMatMulNBits } from '../../../src/tensor/quant.js';
import { addDequantizeLinear, replaceWeight, writeMatMulNBits } from '../../../src/passes/shared/writers.js';
import { matmulModel, maxAbsDiff, opCounts, randn, relDiff, runOrt } from './helpers.js';

const feeds = (K: number, rows = 3) => ({ x: { data: randn(rows * K, 99), dims: [rows, K] } });

for (const bits of [4, 8]) {
  for (const symmetric of [true, false]) {
    test(`MatMulNBits ${bits}-bit ${symmetric ? 'symmetric' : 'asymmetric'} runs in onnxruntime and equals the float dequantized reference (K=72, block 32)`, async () => {
      const K = 72;
      const N = 5;
      const model = matmulModel(K, N, 7);
      const w = model.graph.value('W')!.initializer!;
      const q = quantizeTensor(w.data as Float32Array, w.dims, { kind: 'block', axis: 0, blockSize: 32 }, { bits, symmetric });
      const packed = toMatMulNBits(q);
      // The reference: the same model with W replaced by its dequantization.
      const ref = matmulModel(K, N, 7);
      ref.graph.value('W')!.initializer!.data = fromMatMulNBits(packed);
      // Level 0 (float compute) so that onnxruntime's result is the dequantized product itself.
      writeMatMulNBits(model, model.graph.nodes[0]!, packed, 'W', 0);
      assert.deepEqual(opCounts(model), { MatMulNBits: 1 });
      const got = await runOrt(model, feeds(K), true);
      const want = await runOrt(ref, feeds(K), true);
      const d = maxAbsDiff(got.y!, want.y!);
      assert.ok(d < 1e-5, `max abs diff ${d}`);
      // and it stays near the float model: relative output error of a few percent at 4 bits
      const orig = await runOrt(matmulModel(K, N, 7), feeds(K));
      const r = relDiff(got.y!, orig.y!);
      assert.ok(r < (bits === 8 ? 0.01 : 0.15), `relative error ${r}`);
      // with onnxruntime's default optimizations too (it may requantize the activations)
      const fast = await runOrt(model, feeds(K));
      assert.ok(relDiff(fast.y!, orig.y!) < (bits === 8 ? 0.02 : 0.15));
    });
  }
}

test('MatMulNBits: 8-bit weights get accuracy_level 4 by default (int8 compute, near the float product), 4-bit ones none', async () => {
  const K = 256;
  const N = 16;
  const levels: Record<number, number | undefined> = {};
  for (const bits of [4, 8] as const) {
    const model = matmulModel(K, N, 3);
    const w = model.graph.value('W')!.initializer!;
    const packed = toMatMulNBits(quantizeTensor(w.data as Float32Array, w.dims, { kind: 'block', axis: 0, blockSize: 32 }, { bits, symmetric: false }));
    const node = writeMatMulNBits(model, model.graph.nodes[0]!, packed, 'W');
    levels[bits] = node.attributes.has('accuracy_level') ? node.attrInt('accuracy_level', 0) : undefined;
    if (bits === 8) {
      const ref = matmulModel(K, N, 3);
      ref.graph.value('W')!.initializer!.data = fromMatMulNBits(packed);
      const got = await runOrt(model, feeds(K, 8));
      const want = await runOrt(ref, feeds(K, 8), true);
      const r = relDiff(got.y!, want.y!);
      // int8 A per block: about 1e-3 of the output, not exact (the level really changed the kernel).
      assert.ok(r < 5e-3 && r > 0, `relative difference ${r}`);
    }
  }
  assert.deepEqual(levels, { 4: undefined, 8: 4 });
});

test('blocked int4 DequantizeLinear -> MatMul at opset 21 runs in onnxruntime (K=40 not a multiple of 16)', async () => {
  const K = 40;
  const N = 6;
  const model = matmulModel(K, N, 3, 21);
  const wv = model.graph.value('W')!;
  const w = wv.initializer!;
  for (const symmetric of [true, false]) {
    const m = matmulModel(K, N, 3, 21);
    const q = quantizeTensor(w.data as Float32Array, w.dims, { kind: 'block', axis: 0, blockSize: 16 }, { bits: 4, symmetric });
    const dq = addDequantizeLinear(m.graph, q, { name: 'W', domain: '' });
    replaceWeight(m.graph.value('W')!, dq);
    assert.equal(m.graph.value('W'), undefined);
    const ref = matmulModel(K, N, 3, 21);
    ref.graph.value('W')!.initializer = Tensor.float32([K, N], dequantizeTensor(q), 'W');
    const got = await runOrt(m, feeds(K), true);
    const want = await runOrt(ref, feeds(K), true);
    assert.ok(maxAbsDiff(got.y!, want.y!) < 1e-5, `symmetric ${symmetric}`);
  }
  void model;
});

test('per-axis int8 DequantizeLinear at opset 13 and com.microsoft DequantizeLinear at opset 9', async () => {
  const K = 20;
  const N = 4;
  for (const [opset, domain] of [[13, ''], [9, 'com.microsoft']] as const) {
    const m = matmulModel(K, N, 5, opset);
    const w = m.graph.value('W')!.initializer!;
    const q = quantizeTensor(w.data as Float32Array, w.dims, { kind: 'axis', axis: 1 }, { bits: 8, symmetric: true });
    replaceWeight(m.graph.value('W')!, addDequantizeLinear(m.graph, q, { name: 'W', domain }));
    if (domain) m.ensureOpset(domain, 1);
    const ref = matmulModel(K, N, 5, opset);
    ref.graph.value('W')!.initializer!.data = dequantizeTensor(q);
    const got = await runOrt(m, feeds(K), true);
    const want = await runOrt(ref, feeds(K), true);
    assert.ok(maxAbsDiff(got.y!, want.y!) < 1e-5, `opset ${opset}`);
  }
});
