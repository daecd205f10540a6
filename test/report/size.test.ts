/**
 * Size metrics on models built in the IR: parameters, bits per weight and sparsity of float weights,
 * per-axis and blocked DequantizeLinear weights, and packed MatMulNBits blobs; structure with subgraphs;
 * gates; bytes on disk with external data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DataType } from '../../src/core/dtype.js';
import { Graph, Model, Tensor, makeAttr } from '../../src/ir/index.js';
import { buildReport, bytesOnDisk, evaluateGates, layerRows, structureOf, weightStats } from '../../src/report/index.js';
import { loadModel, saveModel } from '../../src/onnx/index.js';
import { tinyModel } from '../cli/helpers.js';
import { tempDir } from '../helpers/tmp.js';

test('float weights: params, 32 bits per weight, exact zeros', () => {
  const w = weightStats(tinyModel());
  assert.equal(w.params, 16 * 8 + 8 + 8 * 4);
  assert.equal(w.bitsPerWeight, 32);
  assert.equal(w.sparsity, 16 / 168);
  assert.deepEqual(w.bytesByDataType, { FLOAT: 168 * 4 });
});

test('float16 weights: +0 and -0 counted as zeros, subnormals not, any length (two values per word, then the tail)', () => {
  for (const [bits, zeros] of [
    [[0, 0x8000, 0x3c00, 0, 0x0001, 0x7c00, 0x8000], 4],
    [[0x3c00, 0x0001, 0x8001, 0], 1],
    [[0x8000], 1],
  ] as const) {
    const g = new Graph('h');
    const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT16, shape: ['n', bits.length] });
    const w = g.addInitializer('W', new Tensor(DataType.FLOAT16, [bits.length, 1], Uint16Array.from(bits)));
    g.outputs.push(g.createNode({ opType: 'MatMul', inputs: [x, w], outputs: ['y'] }).output(0)!);
    const stats = weightStats(new Model(g, 10, [{ domain: '', version: 17 }]));
    assert.equal(stats.params, bits.length);
    assert.equal(stats.sparsity, zeros / bits.length, `${bits}`);
  }
});

/** x -> DequantizeLinear(Wq, scale, zp) -> MatMul. */
function dqModel(wq: Tensor, scale: Tensor, zp: Tensor | undefined, attrs: ReturnType<typeof makeAttr>[], opset: number): Model {
  const g = new Graph('q');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['n', wq.dims[0]!] });
  const inputs = [g.addInitializer('Wq', wq), g.addInitializer('scale', scale)];
  if (zp) inputs.push(g.addInitializer('zp', zp));
  const dq = g.createNode({ opType: 'DequantizeLinear', inputs, outputs: ['W'], attributes: attrs });
  const mm = g.createNode({ opType: 'MatMul', inputs: [x, dq.output(0)], outputs: ['y'] });
  g.outputs.push(mm.output(0)!);
  return new Model(g, 10, [{ domain: '', version: opset }]);
}

test('per-axis int8 DequantizeLinear: scales and zero points are charged to the weight, zero = zero point', () => {
  // W [4, 3], axis 1: one zero point per column (1, 2, 3); five elements equal their column's zero point.
  const q = Int8Array.from([1, 2, 3, 0, 0, 0, 1, 5, 5, 7, 7, 3]);
  const m = dqModel(new Tensor(DataType.INT8, [4, 3], q), Tensor.float32([3], [0.1, 0.2, 0.3]), new Tensor(DataType.INT8, [3], Int8Array.from([1, 2, 3])), [makeAttr('axis', 1)], 13);
  const w = weightStats(m);
  assert.equal(w.params, 12);
  assert.equal(w.bitsPerWeight, (12 * 8 + 3 * 32 + 3 * 8) / 12);
  assert.equal(w.sparsity, 5 / 12);
  assert.deepEqual(w.paramsByDataType, { INT8: 12 });
  assert.deepEqual(
    w.entries.map((e) => [e.name, e.role]),
    [
      ['Wq', 'quantized'],
      ['scale', 'qparam'],
      ['zp', 'qparam'],
    ],
  );
  const rows = layerRows(m);
  assert.deepEqual(rows, [{ name: 'Wq', op: 'DequantizeLinear', bits: 18, sparsity: 5 / 12, params: 12 }]);
});

test('blocked int4 DequantizeLinear (opset 21): zero points per block of 4 along axis 1', () => {
  // W [2, 8], blocks of 4 along axis 1 -> zp [2, 2] = [[1, -1], [0, 2]].
  const q = Int8Array.from([1, 1, 0, 1, -1, -1, -1, 3, 0, 5, 0, 0, 2, 2, 2, 2]);
  const zp = new Tensor(DataType.INT4, [2, 2], Int8Array.from([1, -1, 0, 2]));
  const m = dqModel(new Tensor(DataType.INT4, [2, 8], q), new Tensor(DataType.FLOAT16, [2, 2], new Uint16Array(4)), zp, [makeAttr('axis', 1), makeAttr('block_size', 4)], 21);
  const w = weightStats(m);
  assert.equal(w.params, 16);
  // zeros: row 0: 1,1,_,1 | -1,-1,-1,_ ; row 1: 0,_,0,0 | 2,2,2,2  -> 3 + 3 + 3 + 4
  assert.equal(w.sparsity, 13 / 16);
  assert.equal(w.bitsPerWeight, (16 * 4 + 4 * 16 + 4 * 4) / 16);
});

test('MatMulNBits: N*K parameters from a packed blob, 4-bit zero points, default zero point 8', () => {
  const N = 2;
  const K = 64;
  const block = 32;
  const blob = new Uint8Array(N * 2 * 16).fill(0x11); // every nibble 1
  // Row 0, block 0: every nibble 3 (its zero point below); row 1, block 1: every nibble 8 (the default).
  blob.fill(0x33, 0, 16);
  blob.fill(0x88, 48, 64);
  const build = (zp?: Uint8Array) => {
    const g = new Graph('nbits');
    const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['n', K] });
    const inputs = [x, g.addInitializer('B', new Tensor(DataType.UINT8, [N, 2, 16], blob.slice())), g.addInitializer('scales', Tensor.float32([N * 2], [1, 1, 1, 1]))];
    if (zp) inputs.push(g.addInitializer('zeros', new Tensor(DataType.UINT8, [N], zp)));
    const node = g.createNode({
      opType: 'MatMulNBits',
      domain: 'com.microsoft',
      inputs,
      outputs: ['y'],
      attributes: [makeAttr('K', K), makeAttr('N', N), makeAttr('bits', 4), makeAttr('block_size', block)],
    });
    g.outputs.push(node.output(0)!);
    return new Model(g, 8, [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ]);
  };
  const none = weightStats(build());
  assert.equal(none.params, N * K);
  assert.equal(none.sparsity, 32 / 128, 'only the nibbles equal to 8 are zero');
  assert.equal(none.bitsPerWeight, (64 * 8 + 4 * 32) / 128);
  // zero points: row 0 -> blocks (3, 8) packed low nibble first = 0x83; row 1 -> (1, 1) = 0x11.
  const zp = weightStats(build(Uint8Array.from([0x83, 0x11])));
  assert.equal(zp.sparsity, (32 + 32) / 128, 'row 0 block 0 (3 = zp) and row 1 block 0 (1 = zp)');
  const s = structureOf(build());
  assert.deepEqual(s.opCounts, { 'com.microsoft.MatMulNBits': 1 });
  assert.deepEqual(s.opsets, [
    { domain: 'ai.onnx', version: 17 },
    { domain: 'com.microsoft', version: 1 },
  ]);
});

test('structure counts nodes inside subgraphs and lists the largest tensors', () => {
  const m = tinyModel();
  const g = m.graph;
  const cond = g.addInput('c', { kind: 'tensor', elemType: DataType.BOOL, shape: [] });
  const thenG = new Graph('then', g);
  const t1 = thenG.createNode({ opType: 'Relu', inputs: [g.value('h2')!], outputs: ['t'] });
  thenG.outputs.push(t1.output(0)!);
  const elseG = new Graph('else', g);
  const e1 = elseG.createNode({ opType: 'Neg', inputs: [g.value('h2')!], outputs: ['e'] });
  const e2 = elseG.createNode({ opType: 'Relu', inputs: [e1.output(0)], outputs: ['e2'] });
  elseG.outputs.push(e2.output(0)!);
  elseG.addInitializer('inner', Tensor.float32([300], new Float32Array(300)));
  g.createNode({ opType: 'If', inputs: [cond], outputs: ['z'], attributes: [makeAttr('then_branch', thenG), makeAttr('else_branch', elseG)] });
  const s = structureOf(m);
  assert.deepEqual(s.opCounts, { Relu: 3, MatMul: 2, Add: 1, If: 1, Neg: 1 });
  assert.equal(s.nodes, 8);
  assert.equal(s.graphs, 3);
  assert.deepEqual(
    s.largestTensors.map((t) => [t.name, t.bytes]),
    [
      ['inner', 1200],
      ['W1', 512],
      ['W2', 128],
      ['b1', 32],
    ],
  );
  assert.equal(weightStats(m).params, 168 + 300, 'subgraph initializers are parameters too');
});

test('gates: max-size on the compressed model, min-ratio as original/compressed bytes', () => {
  const a = { model: tinyModel(), files: { bytes: 1000, files: [] } };
  const b = { model: tinyModel(), files: { bytes: 250, files: [] } };
  const r = buildReport(a, b, { gates: { maxSize: 300, minRatio: 5 } });
  assert.equal(r.sizeRatio, 0.25);
  assert.deepEqual(r.gates, [
    { name: 'max-size', limit: 300, value: 250, pass: true },
    { name: 'min-ratio', limit: 5, value: 4, pass: false },
  ]);
  assert.equal(r.passed, false);
  assert.deepEqual(evaluateGates(r, { minAgreement: 0.9 }), [{ name: 'min-agreement', limit: 0.9, value: null, pass: false }], 'an unmeasured gate fails');
  assert.equal(r.metrics?.measured, false);
});

test('bytes on disk count the model file and its external data file', async () => {
  const dir = tempDir('compress-size-');
  const path = join(dir, 'ext.onnx');
  await saveModel(tinyModel(), path, { externalData: { threshold: 0 } });
  const model = await loadModel(path);
  const dataFile = join(dir, 'ext.onnx.data');
  const files = bytesOnDisk(path, [dataFile]);
  assert.equal(files.bytes, statSync(path).size + statSync(dataFile).size);
  assert.ok(statSync(dataFile).size >= 168 * 4);
  assert.equal(weightStats(model).params, 168);
});

test('weights stored as Constant nodes (Paddle, older PyTorch exports) count like initializers', () => {
  const g = new Graph('c');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['n', 4] });
  const w = g.createNode({ opType: 'Constant', outputs: ['W'], attributes: [makeAttr('value', Tensor.float32([4, 3], [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))] });
  const shape = g.createNode({ opType: 'Constant', outputs: ['shape'], attributes: [makeAttr('value', Tensor.int64([2], [-1, 3]))] });
  const mm = g.createNode({ opType: 'MatMul', inputs: [x, w.output(0)], outputs: ['h'] });
  const r = g.createNode({ opType: 'Reshape', inputs: [mm.output(0), shape.output(0)], outputs: ['y'] });
  g.outputs.push(r.output(0)!);
  const m = new Model(g, 8, [{ domain: '', version: 17 }]);
  const w8 = weightStats(m);
  assert.equal(w8.params, 12, 'the int64 shape is not a parameter');
  assert.equal(w8.sparsity, 2 / 12);
  assert.deepEqual(w8.bytesByDataType, { FLOAT: 48, INT64: 16 });
  assert.deepEqual(structureOf(m).largestTensors.map((t) => t.name), ['W', 'shape']);
});
