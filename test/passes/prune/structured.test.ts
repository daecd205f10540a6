/**
 * Channel pruning: the repaired graph computes exactly what the original computes with the removed
 * channels' outgoing weights set to zero (checked in onnxruntime-node), a residual Add stops the layer, and
 * on fixtures/cnn 30 % of the channels go, the output runs in onnxruntime-node with that many fewer
 * parameters, and its accuracy is recorded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../../src/core/dtype.js';
import { makeAttr } from '../../../src/ir/attribute.js';
import { Graph, Model, Tensor, type Value } from '../../../src/ir/index.js';
import { loadModel, serializeModel } from '../../../src/onnx/index.js';
import { readNpy, type HostArray } from '../../../src/calibration/readers/npy.js';
import { prune } from '../../../src/passes/prune/index.js';
import { batches, fixture, quiet } from './helpers.js';

function randn(n: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const r = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Float32Array.from({ length: n }, () => (r() + r() + r() + r() - 2) * 1.7 * scale);
}

async function runOrt(model: Model, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(serializeModel(model));
  const out = await s.run({ x: new ort.Tensor('float32', x, dims) });
  const r = Float32Array.from(out[s.outputNames[0]!]!.data as Float32Array);
  await s.release();
  return r;
}

function params(m: Model): number {
  return m.graph.initializers.reduce((n, v) => n + (v.initializer!.dataType === DataType.FLOAT ? v.initializer!.size : 0), 0);
}

/**
 * x[n,2,6,6] -> convA(4, 3x3) -> Relu -> Mul(const [1,4,1,1]) -> BatchNorm -> convB(6, 3x3) -> Flatten ->
 * Gemm(transB, [3, 216]); with `residual`, Add(relu, convR(relu)) sits before convB instead of Mul/BN.
 */
function convNet(residual: boolean): Model {
  const g = new Graph('g');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['n', 2, 6, 6] });
  const conv = (name: string, input: Value, o: number, i: number, seed: number) =>
    g.createNode({
      opType: 'Conv',
      name,
      inputs: [input, g.addInitializer(`${name}.w`, Tensor.float32([o, i, 3, 3], randn(o * i * 9, seed, 0.5))), g.addInitializer(`${name}.b`, Tensor.float32([o], randn(o, seed + 1, 0.1)))],
      outputs: [`${name}_out`],
      attributes: [makeAttr('pads', [1, 1, 1, 1]), makeAttr('kernel_shape', [3, 3])],
    }).output(0)!;
  const a = conv('convA', x, 4, 2, 1);
  let h = g.createNode({ opType: 'Relu', name: 'relu', inputs: [a], outputs: ['relu_out'] }).output(0)!;
  if (residual) {
    const r = conv('convR', h, 4, 4, 5);
    h = g.createNode({ opType: 'Add', name: 'res', inputs: [h, r], outputs: ['res_out'] }).output(0)!;
  } else {
    const scale = g.addInitializer('scale', Tensor.float32([1, 4, 1, 1], [1, 2, 0.5, 1.5]));
    h = g.createNode({ opType: 'Mul', name: 'mul', inputs: [h, scale], outputs: ['mul_out'] }).output(0)!;
    const bn = (k: string, v: number[]) => g.addInitializer(`bn.${k}`, Tensor.float32([4], v));
    h = g.createNode({
      opType: 'BatchNormalization',
      name: 'bn',
      inputs: [h, bn('scale', [1, 0.9, 1.1, 1.2]), bn('bias', [0.1, -0.1, 0.2, 0]), bn('mean', [0.3, 0.2, 0.1, 0.4]), bn('var', [1, 2, 0.5, 1.5])],
      outputs: ['bn_out'],
    }).output(0)!;
  }
  const b = conv('convB', h, 6, 4, 3);
  const f = g.createNode({ opType: 'Flatten', name: 'flat', inputs: [b], outputs: ['flat_out'], attributes: [makeAttr('axis', 1)] }).output(0)!;
  const gemm = g.createNode({
    opType: 'Gemm',
    name: 'fc',
    inputs: [f, g.addInitializer('fc.w', Tensor.float32([3, 216], randn(648, 9, 0.1))), g.addInitializer('fc.b', Tensor.float32([3], [0.1, 0.2, 0.3]))],
    outputs: ['y'],
    attributes: [makeAttr('transB', 1)],
  });
  const y = gemm.output(0)!;
  y.type = { kind: 'tensor', elemType: DataType.FLOAT, shape: ['n', 3] };
  g.outputs.push(y);
  return new Model(g, 8, [{ domain: '', version: 13 }]);
}

test('channel pruning repairs BatchNorm, broadcast constants, the next Conv and Flatten->Gemm exactly', async () => {
  const model = convNet(false);
  const reference = convNet(false);
  const x = randn(3 * 72, 42);
  const dims = [3, 2, 6, 6];
  const before = params(model);
  const r = await prune(model, { pattern: 'channel', method: 'l1', sparsity: 0.5, keepSensitive: false });
  const rows = Object.fromEntries(r.layers.map((l) => [l.name, l]));
  assert.deepEqual(rows.convA!.channels, { before: 4, after: 2 });
  assert.deepEqual(rows.convB!.channels, { before: 6, after: 3 });
  assert.equal(rows.fc!.skipped, 'its channels reach the graph output \'y\'');
  assert.deepEqual(model.graph.value('fc.w')!.initializer!.dims, [3, 3 * 36], 'a flattened C*H*W vector loses H*W rows per channel');
  assert.deepEqual(model.graph.value('convB.w')!.initializer!.dims, [3, 2, 3, 3]);
  assert.deepEqual(model.graph.value('bn.var')!.initializer!.dims, [2]);
  assert.deepEqual(model.graph.value('scale')!.initializer!.dims, [1, 2, 1, 1]);
  // The same function as the original with the removed channels' outgoing weights zeroed.
  const goneA = rows.convA!.removedChannels as number[];
  const goneB = rows.convB!.removedChannels as number[];
  const wB = reference.graph.value('convB.w')!.initializer!.data as Float32Array;
  for (let o = 0; o < 6; o++) for (const c of goneA) for (let k = 0; k < 9; k++) wB[(o * 4 + c) * 9 + k] = 0;
  const wF = reference.graph.value('fc.w')!.initializer!.data as Float32Array;
  for (let o = 0; o < 3; o++) for (const c of goneB) for (let s = 0; s < 36; s++) wF[o * 216 + c * 36 + s] = 0;
  const got = await runOrt(model, x, dims);
  const want = await runOrt(reference, x, dims);
  let maxDiff = 0;
  for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
  assert.ok(maxDiff < 1e-4, `max abs diff ${maxDiff}`);
  // convA 72+4, scale 4, bn 16, convB 216+6, fc 648+3 -> convA 36+2, scale 2, bn 8, convB 54+3, fc 324+3.
  assert.equal(before, 969);
  assert.equal(params(model), 432);
});

test('a residual Add of two different channel sets leaves both layers unpruned, and says why', async () => {
  const model = convNet(true);
  const r = await prune(model, { pattern: 'channel', sparsity: 0.5, keepSensitive: false });
  const rows = Object.fromEntries(r.layers.map((l) => [l.name, l]));
  assert.match(String(rows.convA!.skipped), /residual/);
  assert.match(String(rows.convR!.skipped), /residual/);
  assert.deepEqual(rows.convB!.channels, { before: 6, after: 3 });
  assert.ok(r.warnings.some((w) => w.includes('convA')));
});

async function accuracy(model: Model, x: HostArray, y: HostArray): Promise<number> {
  const s = await ort.InferenceSession.create(serializeModel(model));
  const out = await s.run({ input: new ort.Tensor('float32', x.data as Float32Array, x.shape) });
  const lg = out[s.outputNames[0]!]!.data as Float32Array;
  const classes = lg.length / x.shape[0]!;
  let ok = 0;
  for (let i = 0; i < x.shape[0]!; i++) {
    let b = 0;
    for (let c = 1; c < classes; c++) if (lg[i * classes + c]! > lg[i * classes + b]!) b = c;
    if (b === Number(y.data[i])) ok++;
  }
  await s.release();
  return ok / x.shape[0]!;
}

test('fixtures/cnn: 30% of the channels go, the model shrinks and runs in onnxruntime-node', async (t) => {
  const calib = readNpy(fixture('cnn', 'data', 'calib_x.npy'));
  const tx = readNpy(fixture('cnn', 'data', 'test_x.npy'));
  const ty = readNpy(fixture('cnn', 'data', 'test_y.npy'));
  const data = batches(calib, 'input', 64);
  const dense = await loadModel(fixture('cnn', 'model.onnx'));
  const denseAcc = await accuracy(dense, tx, ty);
  const results: Record<string, number> = { dense: denseAcc };
  for (const method of ['l2', 'taylor'] as const) {
    const model = await loadModel(fixture('cnn', 'model.onnx'));
    const before = params(model);
    const r = await prune(model, { pattern: 'channel', method, sparsity: 0.3 }, { ...quiet, data });
    const pruned = r.layers.filter((l) => !l.skipped);
    assert.deepEqual(
      pruned.map((l) => [l.name, l.channels]),
      [
        ['/features/features.4/Conv', { before: 32, after: 22 }],
        ['/features/features.8/Conv', { before: 64, after: 45 }],
      ],
      'the first Conv and the head are spared by default; 30% of each other layer goes',
    );
    const paramsBefore = pruned.reduce((n, l) => n + (l.paramsBefore as number), 0);
    const paramsAfter = pruned.reduce((n, l) => n + l.params, 0);
    assert.ok(paramsAfter <= 0.7 * paramsBefore, `pruned layers: ${paramsBefore} -> ${paramsAfter} parameters`);
    const after = params(model);
    assert.ok(after < 0.7 * before, `model: ${before} -> ${after} parameters`);
    const p = r.report.pruning as { params: { before: number; after: number }; gzipBytes: { original: number; compressed: number }; check: { top1Agreement: number } };
    assert.ok(p.gzipBytes.compressed < 0.7 * p.gzipBytes.original, `gzip ${p.gzipBytes.original} -> ${p.gzipBytes.compressed}`);
    const acc = await accuracy(model, tx, ty);
    results[method] = acc;
    t.diagnostic(`${method}: accuracy ${acc} (dense ${denseAcc}), parameters ${before} -> ${after}, gzip ${p.gzipBytes.original} -> ${p.gzipBytes.compressed}`);
    // Recorded in docs/prune.md; without fine-tuning the drop is a few points.
    assert.ok(acc > 0.7, `${method}: accuracy ${acc} (dense ${denseAcc})`);
    assert.ok(p.check.top1Agreement >= 0.5, `agreement with the original on 16 calibration samples: ${p.check.top1Agreement}`);
  }
  assert.ok(results.dense! > 0.9);
});

test('depthwise Conv and Concat along channels are repaired: same function as zeroing the channels', async () => {
  const make = () => {
    const g = new Graph('g');
    const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['n', 2, 5, 5] });
    const conv = (name: string, input: Value, o: number, i: number, seed: number, group = 1) =>
      g.createNode({
        opType: 'Conv',
        name,
        inputs: [input, g.addInitializer(`${name}.w`, Tensor.float32([o, i, 3, 3], randn(o * i * 9, seed, 0.5))), g.addInitializer(`${name}.b`, Tensor.float32([o], randn(o, seed + 1, 0.1)))],
        outputs: [`${name}_out`],
        attributes: [makeAttr('pads', [1, 1, 1, 1]), makeAttr('kernel_shape', [3, 3]), makeAttr('group', group)],
      }).output(0)!;
    const a = conv('convA', x, 4, 2, 1);
    const r = g.createNode({ opType: 'Relu', name: 'relu', inputs: [a], outputs: ['relu_out'] }).output(0)!;
    const dw = conv('dw', r, 4, 1, 11, 4);
    const c = conv('convC', x, 4, 2, 21);
    const cat = g.createNode({ opType: 'Concat', name: 'cat', inputs: [dw, c], outputs: ['cat_out'], attributes: [makeAttr('axis', 1)] }).output(0)!;
    const b = conv('convB', cat, 5, 8, 31);
    const gap = g.createNode({ opType: 'GlobalAveragePool', name: 'gap', inputs: [b], outputs: ['gap_out'] }).output(0)!;
    const sq = g.createNode({ opType: 'Squeeze', name: 'sq', inputs: [gap, g.addInitializer('axes', Tensor.int64([2], [2, 3]))], outputs: ['sq_out'] }).output(0)!;
    const y = g.createNode({ opType: 'Gemm', name: 'fc', inputs: [sq, g.addInitializer('fc.w', Tensor.float32([5, 3], randn(15, 41, 0.3)))], outputs: ['y'] }).output(0)!;
    y.type = { kind: 'tensor', elemType: DataType.FLOAT, shape: ['n', 3] };
    g.outputs.push(y);
    return new Model(g, 8, [{ domain: '', version: 13 }]);
  };
  const model = make();
  const reference = make();
  const r = await prune(model, { pattern: 'channel', method: 'l2', sparsity: 0.5, exclude: '^fc$', keepSensitive: false });
  const rows = Object.fromEntries(r.layers.map((l) => [l.name, l]));
  assert.deepEqual(rows.convA!.channels, { before: 4, after: 2 });
  assert.equal(rows.dw!.skipped, 'grouped convolutions keep their channels (their inputs decide them)');
  assert.deepEqual(rows.convC!.channels, { before: 4, after: 2 });
  assert.deepEqual(rows.convB!.channels, { before: 5, after: 2 }, 'through GlobalAveragePool and Squeeze into the Gemm rows');
  assert.equal(model.graph.nodes.find((n) => n.name === 'dw')!.attrInt('group', 1), 2);
  assert.deepEqual(model.graph.value('convB.w')!.initializer!.dims, [2, 4, 3, 3]);
  assert.deepEqual(model.graph.value('fc.w')!.initializer!.dims, [2, 3]);
  const wB = reference.graph.value('convB.w')!.initializer!.data as Float32Array;
  const gone = [...(rows.convA!.removedChannels as number[]), ...(rows.convC!.removedChannels as number[]).map((c) => c + 4)];
  for (let o = 0; o < 5; o++) for (const c of gone) for (let k = 0; k < 9; k++) wB[(o * 8 + c) * 9 + k] = 0;
  const wF = reference.graph.value('fc.w')!.initializer!.data as Float32Array;
  for (const c of rows.convB!.removedChannels as number[]) for (let j = 0; j < 3; j++) wF[c * 3 + j] = 0;
  const x = randn(2 * 50, 43);
  const got = await runOrt(model, x, [2, 2, 5, 5]);
  const want = await runOrt(reference, x, [2, 2, 5, 5]);
  let maxDiff = 0;
  for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
  assert.ok(maxDiff < 1e-4, `max abs diff ${maxDiff}`);
});

test('Split along the channels gets new sizes, and each part its consumer repaired', async () => {
  const make = () => {
    const g = new Graph('g');
    const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['n', 2, 4, 4] });
    const conv = (name: string, input: Value, o: number, i: number, seed: number) =>
      g.createNode({
        opType: 'Conv',
        name,
        inputs: [input, g.addInitializer(`${name}.w`, Tensor.float32([o, i, 1, 1], randn(o * i, seed, 0.5)))],
        outputs: [`${name}_out`],
        attributes: [makeAttr('kernel_shape', [1, 1])],
      }).output(0)!;
    const a = conv('convA', x, 6, 2, 1);
    const split = g.createNode({ opType: 'Split', name: 'split', inputs: [a, g.addInitializer('sizes', Tensor.int64([2], [2, 4]))], outputs: ['s0', 's1'], attributes: [makeAttr('axis', 1)] });
    const b = conv('convB', split.output(0)!, 3, 2, 11);
    const c = conv('convC', split.output(1)!, 3, 4, 21);
    const y = g.createNode({ opType: 'Add', name: 'sum', inputs: [b, c], outputs: ['y'] }).output(0)!;
    y.type = { kind: 'tensor', elemType: DataType.FLOAT, shape: ['n', 3, 4, 4] };
    g.outputs.push(y);
    return new Model(g, 8, [{ domain: '', version: 13 }]);
  };
  const model = make();
  const reference = make();
  const r = await prune(model, { pattern: 'channel', method: 'l1', sparsity: 0.5, exclude: 'convB|convC', keepSensitive: false });
  const gone = r.layers[0]!.removedChannels as number[];
  assert.equal(gone.length, 3);
  const sizes = model.graph.nodes.find((n) => n.name === 'split')!.input(1)!.initializer!.toNumbers();
  assert.deepEqual(sizes, [2 - gone.filter((c) => c < 2).length, 4 - gone.filter((c) => c >= 2).length]);
  const wB = reference.graph.value('convB.w')!.initializer!.data as Float32Array;
  const wC = reference.graph.value('convC.w')!.initializer!.data as Float32Array;
  for (const ch of gone) for (let o = 0; o < 3; o++) {
    if (ch < 2) wB[o * 2 + ch] = 0;
    else wC[o * 4 + ch - 2] = 0;
  }
  const x = randn(2 * 32, 5);
  const got = await runOrt(model, x, [2, 2, 4, 4]);
  const want = await runOrt(reference, x, [2, 2, 4, 4]);
  let maxDiff = 0;
  for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
  assert.ok(maxDiff < 1e-4, `max abs diff ${maxDiff}`);
});
