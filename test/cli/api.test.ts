/**
 * The programmatic API of CLI.md (src/index.ts): load, save, report, Session, quantize.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DataType } from '../../src/core/dtype.js';
import { Graph, Model } from '../../src/ir/index.js';
import { loadModel, quantize, report, saveModel, Session, UsageError } from '../../src/index.js';
import { tinyModel } from './helpers.js';
import { tempDir } from '../helpers/tmp.js';

test('loadModel / saveModel / report through the API', async () => {
  const dir = tempDir('compress-api-');
  const path = join(dir, 'tiny.onnx');
  await saveModel(tinyModel(), path);
  const model = await loadModel(path);
  const r = await report(path);
  assert.equal(r.original.bytes, statSync(path).size);
  assert.equal(r.original.params, 168);
  assert.deepEqual(r.original.opCounts, { MatMul: 2, Add: 1, Relu: 1 });
  const pair = await report(path, model);
  assert.equal(pair.compressed?.params, 168);
  assert.equal(typeof pair.sizeRatio, 'number');
  await assert.rejects(saveModel(model, path), (e: Error) => e instanceof UsageError);
});

test('Session.create and run take onnxruntime-shaped tensors', async () => {
  const g = new Graph('r');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['n', 3] });
  const relu = g.createNode({ opType: 'Relu', inputs: [x], outputs: ['y'] });
  g.outputs.push(relu.output(0)!);
  const session = await Session.create(new Model(g), { backend: 'cpu' });
  const out = await session.run({ x: { type: 'float32', data: Float32Array.from([-1, 2, -3]), dims: [1, 3] } });
  assert.deepEqual(Array.from(out.y!.data as Float32Array), [0, 2, 0]);
  assert.deepEqual(out.y!.dims, [1, 3]);
});

test('quantize(model, options) returns the model and its report', async () => {
  const { model, report: r } = await quantize(tinyModel(), { weightOnly: true, bits: 8, granularity: 'channel' });
  assert.equal(r.command, 'quantize');
  assert.equal(r.original.params, 168);
  assert.equal(r.original.bitsPerWeight, 32);
  assert.ok(r.compressed!.bitsPerWeight! < 12, `int8 weights with float scales: ${r.compressed!.bitsPerWeight} bits per weight`);
  assert.ok(r.compressed!.bytes < r.original.bytes);
  assert.equal(r.sizeRatio, r.compressed!.bytes / r.original.bytes);
  assert.ok((r.opCountsDiff as Record<string, number>).DequantizeLinear! >= 1);
  assert.ok(model.graph.nodes.some((n) => n.opType === 'DequantizeLinear'));
  await assert.rejects(quantize(tinyModel(), { bits: 5 as 8 }), (e: Error) => e instanceof UsageError && /--bits/.test(e.message));
});
