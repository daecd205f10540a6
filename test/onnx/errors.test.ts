/**
 * Bad input never escapes as a raw library error: each case is the right CompressError subclass with a
 * one-line message (exit 2 for a path that is not a file, exit 3 for bytes that are not a model).
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompressError, ModelError, UsageError } from '../../src/core/errors.js';
import { loadModel } from '../../src/onnx/index.js';
import { encodeModelProto, encodeTensorProto } from '../../src/onnx/schema.js';
import { tempDir, testdataModels } from './helpers.js';

function expectError(kind: typeof ModelError | typeof UsageError, exitCode: number, ...fragments: string[]) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    assert.equal((e as CompressError).exitCode, exitCode);
    const message = (e as Error).message;
    assert.ok(!message.includes('\n'), `one line: ${JSON.stringify(message)}`);
    for (const f of fragments) assert.ok(message.includes(f), `'${message}' should mention '${f}'`);
    return true;
  };
}

/** The biggest model of the test data (it has weights worth cutting in half). */
function bigTestdataModel(): string {
  const files = testdataModels();
  assert.ok(files.length > 0, 'libonnx-testdata is needed');
  return files.reduce((a, b) => (statSync(b).size > statSync(a).size ? b : a));
}

test('bad files: empty, truncated, text, PNG, a folder, a missing path', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const real = readFileSync(bigTestdataModel());
    const files: [string, Uint8Array | 'dir' | 'missing', typeof ModelError | typeof UsageError, number, string[]][] = [
      ['empty.onnx', new Uint8Array(0), ModelError, 3, ['empty.onnx', 'empty']],
      ['half.onnx', real.subarray(0, real.length >> 1), ModelError, 3, ['half.onnx', 'truncated']],
      ['notes.onnx', new TextEncoder().encode('this is a text file,\nnot a model\n'), ModelError, 3, ['notes.onnx', 'not']],
      ['image.onnx', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 1, 0]), ModelError, 3, ['image.onnx', 'not']],
      ['folder.onnx', 'dir', UsageError, 2, ['folder.onnx', 'folder']],
      ['missing.onnx', 'missing', UsageError, 2, ['missing.onnx', 'does not exist']],
    ];
    for (const [name, content, kind, code, fragments] of files) {
      const p = join(dir, name);
      if (content === 'dir') mkdirSync(p);
      else if (content !== 'missing') writeFileSync(p, content);
      await assert.rejects(loadModel(p), expectError(kind, code, ...fragments), name);
    }
  } finally {
    cleanup();
  }
});

test('bytes that decode but are not a model we read: no graph, a bare tensor, IR 2, IR 14', async () => {
  const graph = { name: 'g', node: [] };
  await assert.rejects(loadModel(encodeTensorProto({ dims: [2], dataType: 1, floatData: [1, 2] })), expectError(ModelError, 3, 'not an ONNX model'));
  await assert.rejects(loadModel(encodeModelProto({ irVersion: 7, opsetImport: [{ domain: '', version: 12 }] })), expectError(ModelError, 3, 'no graph'));
  await assert.rejects(loadModel(encodeModelProto({ irVersion: 2, graph })), expectError(ModelError, 3, 'IR version 2'));
  await assert.rejects(loadModel(encodeModelProto({ irVersion: 14, graph })), expectError(ModelError, 3, 'IR version 14', 'reads IR versions 3 to 13'));
  await assert.rejects(loadModel(new Uint8Array(0)), expectError(ModelError, 3, 'empty'));
});

test('broken structure: undefined inputs, values defined twice, cycles', async () => {
  const t = { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } };
  const model = (node: object[], extra: object = {}) =>
    encodeModelProto({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: { name: 'g', input: [{ name: 'x', type: t }], node, output: [{ name: 'y', type: t }], ...extra } });
  await assert.rejects(loadModel(model([{ name: 'n', opType: 'Relu', input: ['nope'], output: ['y'] }])), expectError(ModelError, 3, "'nope'", "'n'"));
  await assert.rejects(
    loadModel(model([{ name: 'a', opType: 'Relu', input: ['x'], output: ['y'] }, { name: 'b', opType: 'Neg', input: ['x'], output: ['y'] }])),
    expectError(ModelError, 3, "'y'", 'twice'),
  );
  await assert.rejects(
    loadModel(model([{ name: 'a', opType: 'Add', input: ['x', 'q'], output: ['p'] }, { name: 'b', opType: 'Neg', input: ['p'], output: ['q'] }, { name: 'c', opType: 'Identity', input: ['p'], output: ['y'] }])),
    expectError(ModelError, 3, 'cycle'),
  );
  await assert.rejects(loadModel(model([])), expectError(ModelError, 3, "'y'"));
});

test('every truncation and a few hundred corruptions of a model: a CompressError or a model, nothing else', async () => {
  const bytes = readFileSync(testdataModels().find((f) => f.endsWith('/test_conv_with_strides_padding/model.onnx')) ?? bigTestdataModel());
  let seed = 7;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const variants: Uint8Array[] = [];
  for (let cut = 1; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 200))) variants.push(bytes.subarray(0, cut));
  for (let k = 0; k < 300; k++) {
    const v = Uint8Array.from(bytes);
    for (let j = 0; j < 1 + Math.floor(random() * 3); j++) v[Math.floor(random() * v.length)] = Math.floor(random() * 256);
    variants.push(v);
  }
  let loaded = 0;
  for (const v of variants) {
    try {
      await loadModel(v);
      loaded++;
    } catch (e) {
      assert.ok(e instanceof CompressError, `not a CompressError: ${e instanceof Error ? e.stack : String(e)}`);
      assert.ok(!e.message.includes('\n'));
    }
  }
  assert.ok(loaded < variants.length);
});
