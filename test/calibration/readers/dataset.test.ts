/**
 * openDataset on every kind of --data: .npy (batches are views of the file), .npz with two arrays
 * (stored and deflated members), folders in the ONNX test layout (ours and the fixtures'), random:<n>,
 * and the labels reader; plus the errors that name the file and the mismatch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { DataType } from '../../../src/core/dtype.js';
import { UsageError } from '../../../src/core/errors.js';
import { Graph, Model, Tensor } from '../../../src/ir/index.js';
import { loadLabels, openDataset, ortFeeds, readNpz, type Dataset } from '../../../src/calibration/readers/index.js';
import { loadModel, readTensorProto, writeTensorProto } from '../../../src/onnx/index.js';
import { repoRoot, tinyModel } from '../../cli/helpers.js';
import { npyBytes } from './npyfile.js';
import { tempDir } from '../../helpers/tmp.js';

function tmp(): string {
  return tempDir('compress-data-');
}

function f32npy(shape: number[], values: Float32Array): Uint8Array {
  return npyBytes('<f4', shape, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

function i64npy(shape: number[], values: number[]): Uint8Array {
  return npyBytes('<i8', shape, new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer));
}

/** A model with a float input x [batch, 16] and an int64 input ids [batch, 4] that indexes a [50, 8] table. */
function twoInputModel(): Model {
  const g = new Graph('two');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['batch', 16] });
  const ids = g.addInput('ids', { kind: 'tensor', elemType: DataType.INT64, shape: ['batch', 'seq'] });
  const table = g.addInitializer('table', Tensor.float32([50, 8], new Float32Array(400)));
  const gather = g.createNode({ opType: 'Gather', inputs: [table, ids], outputs: ['emb'] });
  const relu = g.createNode({ opType: 'Relu', inputs: [x], outputs: ['rx'] });
  g.outputs.push(gather.output(0)!, relu.output(0)!);
  return new Model(g, 8, [{ domain: '', version: 17 }]);
}

function fixedBatchModel(): Model {
  const g = new Graph('fixed');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: [1, 16] });
  const r = g.createNode({ opType: 'Relu', inputs: [x], outputs: ['y'] });
  g.outputs.push(r.output(0)!);
  return new Model(g, 8, [{ domain: '', version: 17 }]);
}

function sizes(ds: Dataset, batch: number): number[] {
  return [...ds.batches(batch)].map((b) => b.size);
}

test('.npy: lazy batches that view the file data, --samples, type conversion', () => {
  const dir = tmp();
  const values = Float32Array.from({ length: 10 * 16 }, (_, i) => i);
  writeFileSync(join(dir, 'x.npy'), f32npy([10, 16], values));
  const ds = openDataset(join(dir, 'x.npy'), tinyModel());
  assert.equal(ds.samples, 10);
  assert.deepEqual(ds.inputNames, ['x']);
  assert.deepEqual(sizes(ds, 4), [4, 4, 2]);
  const batches = [...ds.batches(4)];
  const second = batches[1]!.feeds.x!;
  assert.deepEqual(second.dims, [4, 16]);
  assert.equal(second.dataType, DataType.FLOAT);
  const host = second.host() as Float32Array;
  assert.equal(host[0], 64);
  assert.equal(host.buffer, (batches[0]!.feeds.x!.host() as Float32Array).buffer, 'every batch views the one array read from the file');
  const ort = ortFeeds(batches[2]!);
  assert.deepEqual(ort.x, { type: 'float32', data: batches[2]!.feeds.x!.host(), dims: [2, 16] });
  assert.equal(openDataset(join(dir, 'x.npy'), tinyModel(), { samples: 3 }).samples, 3);
  // float64 data for a float32 input is converted once.
  writeFileSync(join(dir, 'x64.npy'), npyBytes('<f8', [2, 16], new Uint8Array(Float64Array.from({ length: 32 }, (_, i) => i / 4).buffer)));
  const d64 = [...openDataset(join(dir, 'x64.npy'), tinyModel()).batches(8)][0]!.feeds.x!;
  assert.equal(d64.dataType, DataType.FLOAT);
  assert.equal((d64.host() as Float32Array)[5], 1.25);
});

test('.npy errors name the file and the mismatch', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'wide.npy'), f32npy([4, 15], new Float32Array(60)));
  assert.throws(
    () => openDataset(join(dir, 'wide.npy'), tinyModel()),
    (e: Error) => e instanceof UsageError && /'.*wide\.npy' holds FLOAT \[4, 15\].*model input 'x' is FLOAT \[batch, 16\]/.test(e.message),
  );
  writeFileSync(join(dir, 'x.npy'), f32npy([4, 16], new Float32Array(64)));
  assert.throws(() => openDataset(join(dir, 'x.npy'), twoInputModel()), /holds one array but the model has 2 inputs \(x, ids\)/);
  writeFileSync(join(dir, 'ids.npy'), f32npy([4, 4], new Float32Array(16)));
  const idsOnly = twoInputModel();
  idsOnly.graph.inputs.splice(0, 1);
  assert.throws(() => openDataset(join(dir, 'ids.npy'), idsOnly), /holds FLOAT values but model input 'ids' takes INT64: floats are not turned into integers/);
  writeFileSync(join(dir, 'data.csv'), '1,2,3\n');
  assert.throws(() => openDataset(join(dir, 'data.csv'), tinyModel()), /unknown data format/);
  assert.throws(() => openDataset(join(dir, 'none.npy'), tinyModel()), /does not exist/);
});

test('fixed-batch inputs take batches of their size; a sample may be a whole feed', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'x.npy'), f32npy([5, 16], Float32Array.from({ length: 80 }, (_, i) => i)));
  const ds = openDataset(join(dir, 'x.npy'), fixedBatchModel());
  assert.equal(ds.batchSizeFor(32), 1);
  assert.deepEqual(sizes(ds, 32), [1, 1, 1, 1, 1]);
  writeFileSync(join(dir, 'whole.npy'), f32npy([3, 1, 16], Float32Array.from({ length: 48 }, (_, i) => i)));
  const whole = [...openDataset(join(dir, 'whole.npy'), fixedBatchModel()).batches(8)];
  assert.equal(whole.length, 3);
  assert.deepEqual(whole[2]!.feeds.x!.dims, [1, 16]);
  assert.equal((whole[2]!.feeds.x!.host() as Float32Array)[0], 32);
});

test('.npz with two arrays, one stored and one deflated, one per input name', () => {
  const dir = tmp();
  const x = Float32Array.from({ length: 6 * 16 }, (_, i) => i / 8);
  const ids = Array.from({ length: 6 * 4 }, (_, i) => i % 50);
  const zip = zipSync({ 'x.npy': [f32npy([6, 16], x), { level: 0 }], 'ids.npy': [i64npy([6, 4], ids), { level: 9 }] });
  writeFileSync(join(dir, 'd.npz'), zip);
  const arrays = readNpz(join(dir, 'd.npz'));
  assert.deepEqual([...arrays.keys()].sort(), ['ids', 'x']);
  assert.deepEqual(arrays.get('ids')!.shape, [6, 4]);
  const ds = openDataset(join(dir, 'd.npz'), twoInputModel());
  assert.deepEqual(ds.inputNames, ['x', 'ids']);
  const [b0, b1] = [...ds.batches(4)];
  assert.deepEqual(b1!.feeds.x!.dims, [2, 16]);
  assert.deepEqual(b1!.feeds.ids!.dims, [2, 4]);
  assert.equal(b1!.feeds.ids!.dataType, DataType.INT64);
  assert.equal((b1!.feeds.ids!.host() as BigInt64Array)[0], 16n);
  assert.equal((b0!.feeds.x!.host() as Float32Array)[17], 17 / 8);
  // Missing an input's array; sample counts that disagree; not a zip; a truncated zip.
  writeFileSync(join(dir, 'only.npz'), zipSync({ 'x.npy': f32npy([6, 16], x) }));
  assert.throws(() => openDataset(join(dir, 'only.npz'), twoInputModel()), /has no array named 'ids' for that model input \(it holds: x\)/);
  writeFileSync(join(dir, 'uneven.npz'), zipSync({ 'x.npy': f32npy([6, 16], x), 'ids.npy': i64npy([5, 4], ids.slice(0, 20)) }));
  assert.throws(() => openDataset(join(dir, 'uneven.npz'), twoInputModel()), /different sample counts \(x: 6, ids: 5\)/);
  writeFileSync(join(dir, 'text.npz'), 'hello');
  assert.throws(() => openDataset(join(dir, 'text.npz'), twoInputModel()), (e: Error) => e instanceof UsageError && /text\.npz' is not an \.npz file/.test(e.message));
  writeFileSync(join(dir, 'cut.npz'), zip.subarray(0, zip.length - 30));
  assert.throws(() => openDataset(join(dir, 'cut.npz'), twoInputModel()), (e: Error) => e instanceof UsageError && /cut\.npz/.test(e.message));
});

test('a folder in the ONNX test layout: sets batched across their boundaries, tensors matched by name', () => {
  const dir = tmp();
  const m = twoInputModel();
  const sets = [2, 3];
  let next = 0;
  sets.forEach((n, s) => {
    const set = join(dir, `test_data_set_${s}`);
    mkdirSync(set);
    const x = Tensor.float32([n, 16], Float32Array.from({ length: n * 16 }, () => next++), 'x');
    const ids = Tensor.int64([n, 4], Array.from({ length: n * 4 }, (_, i) => (s * 10 + i) % 50), 'ids');
    // Written in the other order: the names decide.
    writeFileSync(join(set, 'input_0.pb'), writeTensorProto(ids));
    writeFileSync(join(set, 'input_1.pb'), writeTensorProto(x));
  });
  const ds = openDataset(dir, m);
  assert.equal(ds.samples, 5);
  const [b0, b1] = [...ds.batches(4)];
  assert.deepEqual(b0!.feeds.x!.dims, [4, 16]);
  assert.deepEqual(Array.from(b0!.feeds.x!.host() as Float32Array).slice(30, 34), [30, 31, 32, 33], 'the batch crosses from set 0 into set 1');
  assert.equal((b0!.feeds.ids!.host() as BigInt64Array)[8], 10n);
  assert.equal(b1!.size, 1);
  assert.equal((b1!.feeds.x!.host() as Float32Array)[0], 64);
  writeFileSync(join(dir, 'test_data_set_1', 'input_1.pb'), new Uint8Array([0xff, 0xff, 0xff]));
  assert.throws(() => openDataset(dir, m), (e: Error) => e instanceof UsageError && /test_data_set_1\/input_1\.pb/.test(e.message));
  const empty = tmp();
  assert.throws(() => openDataset(empty, m), /without test_data_set_\* subfolders/);
});

test('a test folder for a model without a batch axis: each set is one whole feed', () => {
  const dir = tmp();
  const g = new Graph('fixed');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: [3, 4] });
  const w = g.addInput('w', { kind: 'tensor', elemType: DataType.FLOAT, shape: [4] });
  const add = g.createNode({ opType: 'Add', inputs: [x, w], outputs: ['y'] });
  g.outputs.push(add.output(0)!);
  const m = new Model(g, 8, [{ domain: '', version: 17 }]);
  for (let s = 0; s < 2; s++) {
    const set = join(dir, `test_data_set_${s}`);
    mkdirSync(set);
    writeFileSync(join(set, 'input_0.pb'), writeTensorProto(Tensor.float32([3, 4], Float32Array.from({ length: 12 }, (_, i) => s * 100 + i))));
    writeFileSync(join(set, 'input_1.pb'), writeTensorProto(Tensor.float32([4], [s, s, s, s])));
  }
  const ds = openDataset(dir, m);
  assert.equal(ds.samples, 2);
  assert.equal(ds.batchSizeFor(16), 1);
  const batches = [...ds.batches(16)];
  assert.deepEqual(batches.map((b) => [b.feeds.x!.dims, b.feeds.w!.dims]), [
    [[3, 4], [4]],
    [[3, 4], [4]],
  ]);
  assert.equal((batches[1]!.feeds.x!.host() as Float32Array)[11], 111);
  writeFileSync(join(dir, 'test_data_set_1', 'input_1.pb'), writeTensorProto(Tensor.float32([5], [1, 2, 3, 4, 5])));
  assert.throws(() => openDataset(dir, m), /test_data_set_1\/input_1\.pb' holds FLOAT \[5\], but model input 'w' is FLOAT \[4\]/);
});

test('the fixtures: fixtures/mlp test_data_set_0 feeds the mlp model', async () => {
  const root = join(repoRoot(), 'fixtures', 'mlp');
  const model = await loadModel(join(root, 'model.onnx'));
  const ds = openDataset(root, model);
  const expected = readTensorProto(await import('node:fs').then((fs) => fs.readFileSync(join(root, 'test_data_set_0', 'input_0.pb'))));
  assert.equal(ds.samples, expected.dims[0]);
  const [batch] = [...ds.batches(ds.samples)];
  const input = model.graph.inputs[0]!.name;
  assert.deepEqual(batch!.feeds[input]!.dims, expected.dims);
  assert.deepEqual(Array.from(batch!.feeds[input]!.host() as Float32Array).slice(0, 8), Array.from(expected.data as Float32Array).slice(0, 8));
});

test('random:<n>: seeded, independent of the batch size, ids within the vocabulary, symbolic dims 32', () => {
  const m = twoInputModel();
  const a = openDataset('random:10', m, { seed: 7 });
  assert.equal(a.synthetic, true);
  assert.equal(a.samples, 10);
  const flat = (ds: Dataset, bs: number, name: string) => [...ds.batches(bs)].flatMap((b) => Array.from(b.feeds[name]!.host() as ArrayLike<number | bigint>, Number));
  assert.deepEqual(flat(a, 3, 'x'), flat(openDataset('random:10', m, { seed: 7 }), 10, 'x'));
  assert.notDeepEqual(flat(a, 10, 'x'), flat(openDataset('random:10', m, { seed: 8 }), 10, 'x'));
  const first = [...a.batches(4)][0]!;
  assert.deepEqual(first.feeds.ids!.dims, [4, 32], 'the symbolic seq dim takes 32');
  const ids = flat(a, 10, 'ids');
  assert.ok(ids.every((v) => Number.isInteger(v) && v >= 0 && v < 50), 'ids index the 50-row table');
  assert.ok(Math.max(...ids) >= 40, 'ids spread over the vocabulary');
  const plain = new Graph('p');
  plain.addInput('tok', { kind: 'tensor', elemType: DataType.INT64, shape: ['b', 6] });
  const noVocab = flat(openDataset('random:200', new Model(plain), { seed: 1 }), 64, 'tok');
  assert.ok(noVocab.every((v) => v >= 0 && v < 100) && Math.max(...noVocab) === 99);
  const xs = flat(openDataset('random:1000', m, { seed: 3 }), 256, 'x');
  const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((s, v) => s + (v - mean) ** 2, 0) / xs.length);
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(sd - 1) < 0.03, `standard normal floats (mean ${mean}, sd ${sd})`);
  assert.throws(() => openDataset('random:x', m), /positive integer/);
});

test('labels: integer .npy of shape [n] or [n, 1]', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'y.npy'), i64npy([4], [3, 0, 9, 1]));
  assert.deepEqual(Array.from(loadLabels(join(dir, 'y.npy'))), [3, 0, 9, 1]);
  writeFileSync(join(dir, 'y2.npy'), i64npy([3, 1], [1, 2, 3]));
  assert.deepEqual(Array.from(loadLabels(join(dir, 'y2.npy'))), [1, 2, 3]);
  writeFileSync(join(dir, 'yf.npy'), f32npy([2], Float32Array.from([1, 2])));
  assert.throws(() => loadLabels(join(dir, 'yf.npy')), /labels must be integers/);
  writeFileSync(join(dir, 'ym.npy'), i64npy([2, 2], [1, 2, 3, 4]));
  assert.throws(() => loadLabels(join(dir, 'ym.npy')), /shape \[n\] or \[n, 1\]/);
  writeFileSync(join(dir, 'yn.npy'), i64npy([2], [1, -1]));
  assert.throws(() => loadLabels(join(dir, 'yn.npy')), /label -1 at index 1/);
});

test('float16 and bfloat16 inputs: float32 samples are converted (rounded to nearest even), random:<n> draws them too', () => {
  const dir = tmp();
  // 1 + 2^-11 is halfway between two float16 values: it rounds to the even one, 1.
  writeFileSync(join(dir, 'x.npy'), f32npy([2, 2], Float32Array.from([1, -2.5, 1 + 2 ** -11, 3.14159])));
  for (const [type, bits] of [
    [DataType.FLOAT16, [0x3c00, 0xc100, 0x3c00, 0x4248]],
    [DataType.BFLOAT16, [0x3f80, 0xc020, 0x3f80, 0x4049]],
  ] as const) {
    const g = new Graph('h');
    g.addInput('x', { kind: 'tensor', elemType: type, shape: ['batch', 2] });
    const m = new Model(g);
    const [b] = [...openDataset(join(dir, 'x.npy'), m).batches(2)];
    assert.equal(b!.feeds.x!.dataType, type);
    assert.deepEqual(Array.from(b!.feeds.x!.host() as Uint16Array), bits);
    const r = [...openDataset('random:64', m, { seed: 1 }).batches(64)][0]!.feeds.x!;
    assert.equal(r.dataType, type);
    const values = r.float32();
    assert.ok(values.every((v) => Number.isFinite(v)) && Math.max(...values) > 1 && Math.min(...values) < -1, 'standard normal values');
  }
});
