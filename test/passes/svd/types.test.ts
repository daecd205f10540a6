/**
 * svd on float16 and bfloat16 models (issue #14): weights read in float32 whatever they are stored in
 * (initializers, Constant nodes, external data), factors written back in the model's own type, and the
 * result close to what the float32 model gives. The float16 and bfloat16 models are the digits fixture
 * converted here through the IR.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../../src/core/dtype.js';
import { float16ToFloat32Array, float32ToFloat16Array } from '../../../src/core/float16.js';
import { noProgress, silentLogger } from '../../../src/core/logger.js';
import { readNpy, type HostArray } from '../../../src/calibration/readers/npy.js';
import { makeAttr } from '../../../src/ir/attribute.js';
import { Graph, Model, type Value } from '../../../src/ir/index.js';
import { encodeFloat, floatTensor, weightValues } from '../../../src/ir/weights.js';
import { loadModel, saveModel, serializeModel } from '../../../src/onnx/index.js';
import { svd } from '../../../src/passes/svd/index.js';
import { Session } from '../../../src/runtime/session.js';
import { RTensor } from '../../../src/runtime/value.js';
import { accuracy, agreement, batches, outputsOf, randn } from './helpers.js';

const ctx = { logger: silentLogger, progress: noProgress };
const dir = 'fixtures/digits/data';

/** The model with every float32 initializer, graph input and output stored as `dataType`. */
function asFloatType(model: Model, dataType: number): Model {
  for (const v of model.graph.initializers) {
    const t = v.initializer!;
    if (t.dataType === DataType.FLOAT) v.initializer = floatTensor(dataType, t.dims, weightValues(t), t.name);
  }
  for (const v of [...model.graph.inputs, ...model.graph.outputs]) if (v.type?.kind === 'tensor' && v.type.elemType === DataType.FLOAT) v.type = { ...v.type, elemType: dataType };
  return model;
}

/** The float16 model's first output on `x` in onnxruntime-node (float16 in and out, read as float32). */
async function runFloat16(model: Model, x: HostArray): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(serializeModel(model), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const feed = new ort.Tensor('float16', float32ToFloat16Array(x.data as Float32Array), x.shape);
  const out = await s.run({ [s.inputNames[0]!]: feed });
  const o = out[s.outputNames[0]!]!;
  await s.release();
  return o.type === 'float16' ? float16ToFloat32Array(o.data as Uint16Array) : Float32Array.from(o.data as Float32Array);
}

/** Calibration batches stored as `dataType` (what a float16 or bfloat16 model's input takes). */
function typedBatches(x: HostArray, name: string, batchSize: number, dataType: number): Iterable<Record<string, RTensor>> {
  return {
    *[Symbol.iterator]() {
      for (const b of batches(x, name, batchSize)) {
        const t = b[name]!;
        yield { [name]: RTensor.fromHost(dataType, t.dims, encodeFloat(dataType, t.float32())) };
        t.dispose();
      }
    },
  };
}

/** The factor initializers svd wrote: their types. */
function factorTypes(model: Model): number[] {
  return model.graph.initializers.filter((v) => /_svd_[ab]$/.test(v.name)).map((v) => v.initializer!.dataType);
}

test('float16 digits MLP: factors stay float16, the model runs in onnxruntime and matches the float32 path', async () => {
  const test = readNpy(`${dir}/test_x.npy`);
  const y = readNpy(`${dir}/test_y.npy`).data as ArrayLike<number | bigint>;
  const calib = readNpy(`${dir}/calib_x.npy`);
  const m32 = await loadModel('fixtures/digits/model.onnx');
  const r32 = await svd(m32, { ratio: 0.25 }, { ...ctx, data: batches(calib, 'input', 64) });
  const ref = await outputsOf(m32, 'input', test);
  const m16 = asFloatType(await loadModel('fixtures/digits/model.onnx'), DataType.FLOAT16);
  const r16 = await svd(m16, { ratio: 0.25 }, { ...ctx, data: typedBatches(calib, 'input', 64, DataType.FLOAT16) });
  assert.deepEqual(r16.layers.map((l) => l.rank ?? l.skipped), r32.layers.map((l) => l.rank ?? l.skipped));
  assert.deepEqual(r16.layers.map((l) => l.dataType), ['float16', 'float16', undefined]);
  assert.deepEqual(factorTypes(m16), [DataType.FLOAT16, DataType.FLOAT16, DataType.FLOAT16, DataType.FLOAT16]);
  // Half the bytes of the float32 result's weights.
  assert.equal(r16.plan.bytes.before - r16.plan.bytes.after, (r32.plan.bytes.before - r32.plan.bytes.after) / 2);
  const got = await runFloat16(m16, test);
  assert.ok(agreement(got, ref.data, 10) >= 0.99, `agreement with the float32 path ${agreement(got, ref.data, 10)}`);
  assert.ok(Math.abs(accuracy(got, 10, y) - accuracy(ref.data, 10, y)) <= 0.01);
});

test('bfloat16 digits MLP: factors stay bfloat16, and compress runs the result close to the float32 path', async () => {
  const test = readNpy(`${dir}/test_x.npy`);
  const m32 = await loadModel('fixtures/digits/model.onnx');
  await svd(m32, { ratio: 0.25 }, ctx);
  const ref = await outputsOf(m32, 'input', test);
  const m = asFloatType(await loadModel('fixtures/digits/model.onnx'), DataType.BFLOAT16);
  const r = await svd(m, { ratio: 0.25 }, ctx);
  assert.equal(r.layers.filter((l) => l.dataType === 'bfloat16').length, 2);
  assert.deepEqual(factorTypes(m), [DataType.BFLOAT16, DataType.BFLOAT16, DataType.BFLOAT16, DataType.BFLOAT16]);
  const session = await Session.create(m, { logger: silentLogger });
  const out = session.runSync({ input: RTensor.fromHost(DataType.BFLOAT16, test.shape, encodeFloat(DataType.BFLOAT16, test.data as Float32Array)) });
  const got = [...out.values()][0]!;
  const logits = got.float32();
  for (const t of out.values()) t.dispose();
  session.dispose();
  assert.ok(agreement(logits, ref.data, 10) >= 0.97, `agreement with the float32 path ${agreement(logits, ref.data, 10)}`);
});

test('a float16 weight in a Constant node: factorized into float16 initializers, the Constant node gone', async () => {
  const g = new Graph('g');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT16, shape: ['n', 32] });
  // A rank-6 weight: its rank-6 factors reproduce it up to float16 rounding.
  const u = randn(32 * 6, 3, 0.3);
  const v = randn(6 * 24, 4, 0.3);
  const w32 = new Float32Array(32 * 24);
  for (let i = 0; i < 32; i++) for (let j = 0; j < 24; j++) for (let q = 0; q < 6; q++) w32[i * 24 + j] = w32[i * 24 + j]! + u[i * 6 + q]! * v[q * 24 + j]!;
  const c = g.createNode({ opType: 'Constant', name: 'w', inputs: [], outputs: ['W'], attributes: [makeAttr('value', floatTensor(DataType.FLOAT16, [32, 24], w32))] });
  const w2 = g.addInitializer('W2', floatTensor(DataType.FLOAT16, [24, 4], randn(24 * 4, 4, 0.2)));
  const mm = g.createNode({ opType: 'MatMul', name: 'mm', inputs: [x, c.output(0)], outputs: ['h'] });
  const head = g.createNode({ opType: 'MatMul', name: 'head', inputs: [mm.output(0), w2], outputs: ['y'] });
  const y = head.output(0)! as Value;
  y.type = { kind: 'tensor', elemType: DataType.FLOAT16 };
  g.outputs.push(y);
  const m = new Model(g, 8, [{ domain: '', version: 13 }]);
  const xs: HostArray = { dataType: DataType.FLOAT, shape: [16, 32], data: randn(16 * 32, 5) };
  const before = await runFloat16(m, xs);
  const r = await svd(m, { rank: 6 }, ctx);
  assert.equal(r.layers[0]!.rank, 6);
  assert.equal(m.graph.nodes.filter((n) => n.opType === 'Constant').length, 0);
  assert.deepEqual(factorTypes(m), [DataType.FLOAT16, DataType.FLOAT16]);
  const after = await runFloat16(m, xs);
  // Only float16 rounding of the factors separates the two.
  let num = 0;
  let den = 0;
  for (let i = 0; i < before.length; i++) {
    num += (after[i]! - before[i]!) ** 2;
    den += before[i]! ** 2;
  }
  assert.ok(num / den < 1e-4, `relative error ${num / den}`);
});

test('float16 weights in an external data file: read when factorized, the head never read, the result saves and runs', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'svd-ext-'));
  try {
    const src = asFloatType(await loadModel('fixtures/digits/model.onnx'), DataType.FLOAT16);
    await saveModel(src, join(tmp, 'in.onnx'), { externalData: { threshold: 0 } });
    const m = await loadModel(join(tmp, 'in.onnx'));
    const head = m.graph.value('net.4.weight')!.initializer!;
    assert.ok(head.source !== undefined && !head.loaded, 'the weights are external and not read yet');
    const r = await svd(m, { ratio: 0.25 }, ctx);
    assert.equal(r.layers.filter((l) => l.rank !== undefined).length, 2);
    assert.ok(!head.loaded, 'the kept head was never read');
    await saveModel(m, join(tmp, 'out.onnx'));
    const test = readNpy(`${dir}/test_x.npy`);
    const got = await runFloat16(await loadModel(join(tmp, 'out.onnx')), test);
    const acc = accuracy(got, 10, readNpy(`${dir}/test_y.npy`).data as ArrayLike<number | bigint>);
    assert.ok(acc >= 0.95, `accuracy ${acc}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
