/**
 * Streaming I/O for models larger than memory: external data stays on disk until a tensor is used (and can
 * be released again), a save copies untouched tensors from their source file without decoding them, a
 * staged save can be checked before it is committed (or aborted without a trace), and a data file that
 * changes under a loaded model is refused rather than read.
 */
import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/core/dtype.js';
import { ModelError } from '../../src/core/errors.js';
import { Tensor } from '../../src/ir/tensor.js';
import { makeAttr } from '../../src/ir/attribute.js';
import { loadModel, saveModel, stageModel } from '../../src/onnx/index.js';
import { float32ToFloat16Array } from '../../src/core/float16.js';
import { tempDir } from './helpers.js';

/** A model with two external weights (float32 and float16) and a small inline bias, saved in `dir`. */
async function externalModel(dir: string): Promise<string> {
  const { Model } = await import('../../src/ir/model.js');
  const { Graph } = await import('../../src/ir/graph.js');
  const g = new Graph('g');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: [1, 64] });
  const w = g.addInitializer('W', Tensor.float32([64, 64], Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i))));
  const h = g.addInitializer('H', new Tensor(DataType.FLOAT16, [64, 64], float32ToFloat16Array(Float32Array.from({ length: 4096 }, (_, i) => Math.cos(i)))));
  const b = g.addInitializer('b', Tensor.float32([64], new Float32Array(64).fill(0.5)));
  const xw = g.createNode({ opType: 'MatMul', inputs: [x, w], outputs: ['xw'] }).output(0)!;
  const y = g.createNode({ opType: 'Add', inputs: [xw, b], outputs: ['y'] }).output(0)!;
  const hc = g.createNode({ opType: 'Cast', inputs: [h], outputs: ['hc'], attributes: [makeAttr('to', DataType.FLOAT, 'int')] }).output(0)!;
  const z = g.createNode({ opType: 'MatMul', inputs: [y, hc], outputs: ['z'] }).output(0)!;
  g.outputs.push(z);
  const model = new Model(g, 8, [{ domain: '', version: 17 }]);
  const path = join(dir, 'm.onnx');
  await saveModel(model, path, { externalData: { threshold: 1024 } });
  return path;
}

test('external data is read when a tensor is first used, and can be released and read again', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const model = await loadModel(await externalModel(dir));
    const w = model.graph.value('W')!.initializer!;
    const b = model.graph.value('b')!.initializer!;
    assert.equal(w.loaded, false, 'an external tensor stays on disk after loading');
    assert.ok(w.source && w.source.length === 4096 * 4, 'it knows where its bytes are');
    assert.equal(b.loaded, true, 'an inline tensor is decoded with the model');
    const first = (w.view() as Float32Array)[7];
    assert.equal(first, Math.fround(Math.sin(7)));
    assert.equal(w.loaded, true);
    assert.equal(w.release(), true, 'data read from its file can be given back');
    assert.equal(w.loaded, false);
    assert.equal((w.view() as Float32Array)[7], first, 'and read again');
    // Writing through .data detaches the tensor from its file: a release then keeps the change.
    (w.data as Float32Array)[7] = 42;
    assert.equal(w.source, undefined);
    assert.equal(w.release(), false);
    assert.equal((w.view() as Float32Array)[7], 42);
  } finally {
    cleanup();
  }
});

test('a data file that changes under a loaded model is refused (one line, exit 3), never read as if it were the same', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = await externalModel(dir);
    const model = await loadModel(path);
    const data = join(dir, 'm.onnx.data');
    const bytes = readFileSync(data);
    bytes[0] = bytes[0]! ^ 1;
    writeFileSync(data, bytes);
    utimesSync(data, new Date(), new Date(Date.now() + 5000));
    assert.throws(
      () => model.graph.value('W')!.initializer!.view(),
      (e: unknown) => e instanceof ModelError && e.exitCode === 3 && /changed after the model was loaded/.test(e.message) && !e.message.includes('\n'),
    );
  } finally {
    cleanup();
  }
});

test('a save copies untouched external tensors byte for byte without decoding them, and writes changed ones', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const model = await loadModel(await externalModel(dir));
    const w = model.graph.value('W')!.initializer!;
    const h = model.graph.value('H')!.initializer!;
    (w.data as Float32Array)[0] = 3; // changed
    const out = join(dir, 'out.onnx');
    await saveModel(model, out);
    assert.equal(h.loaded, false, 'the untouched float16 tensor was copied, not decoded');
    const again = await loadModel(out);
    assert.deepEqual(new Uint16Array(again.graph.value('H')!.initializer!.view() as Uint16Array), new Uint16Array((await loadModel(join(dir, 'm.onnx'))).graph.value('H')!.initializer!.view() as Uint16Array));
    assert.equal((again.graph.value('W')!.initializer!.view() as Float32Array)[0], 3);
    assert.equal((again.graph.value('W')!.initializer!.view() as Float32Array)[1], Math.fround(Math.sin(1)));
  } finally {
    cleanup();
  }
});

test('a staged model sits in a hidden folder under its final names until committed; an abort leaves nothing', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const model = await loadModel(await externalModel(dir));
    const before = readdirSync(dir).sort();
    const staged = await stageModel(model, join(dir, 'out.onnx'));
    assert.deepEqual(staged.files.map((f) => f.split('/').pop()), ['out.onnx', 'out.onnx.data'], 'final names, so runtimes find the data');
    assert.ok(staged.path.includes('/.out.onnx.tmp-'));
    assert.deepEqual(readdirSync(dir).filter((f) => !f.startsWith('.')).sort(), before, 'nothing in place yet');
    const checked = await loadModel(staged.path);
    assert.equal((checked.graph.value('W')!.initializer!.view() as Float32Array)[5], Math.fround(Math.sin(5)), 'the staged files load as a model');
    await staged.abort();
    assert.deepEqual(readdirSync(dir).sort(), before, 'an abort leaves no file and no folder');

    const again = await stageModel(model, join(dir, 'out.onnx'));
    await again.commit();
    assert.deepEqual(readdirSync(dir).sort(), [...before, 'out.onnx', 'out.onnx.data'].sort(), 'a commit puts both in place and removes the staging folder');
  } finally {
    cleanup();
  }
});

test('the executor with streamed weights gives the outputs of a normal run and leaves no weight in memory', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = await externalModel(dir);
    const { Session } = await import('../../src/runtime/session.js');
    const feeds = { x: { type: 'float32' as const, data: Float32Array.from({ length: 64 }, (_, i) => i / 64 - 0.5), dims: [1, 64] } };
    const plain = await Session.create(await loadModel(path), { backend: 'wasm' });
    const want = (await plain.run(feeds)).z!.data as Float32Array;
    plain.dispose();
    const model = await loadModel(path);
    const streamed = await Session.create(model, { backend: 'wasm', streamWeights: true });
    for (let run = 0; run < 2; run++) {
      const got = (await streamed.run(feeds)).z!.data as Float32Array;
      // Streaming fuses no bias into the product (nothing is kept across runs): the same sums, in another order.
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5 * Math.max(1, Math.abs(want[i]!)), `run ${run}: output ${i}: ${got[i]} vs ${want[i]}`);
      for (const name of ['W', 'H']) assert.equal(model.graph.value(name)!.initializer!.loaded, false, `run ${run}: '${name}' was released after its last use`);
    }
    streamed.dispose();
  } finally {
    cleanup();
  }
});
