/**
 * Saving: the same model gives the same bytes, the input is never overwritten, an existing output only
 * with force, and no temporary file is left behind, whether the save succeeds or fails.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/core/errors.js';
import { loadModel, saveModel, serializeModel } from '../../src/onnx/index.js';
import { fixtureModels, leftoverTemps, tempDir, testdataModels } from './helpers.js';

function someModels(): string[] {
  const data = testdataModels();
  // Weights first (test_Conv2d: initializers), then subgraphs (If, Loop, Scan) and the fixtures.
  const pick = ['test_Conv2d', 'test_BatchNorm2d_eval', 'test_if', 'test_loop11', 'test_scan9_sum'];
  const chosen = pick.map((p) => data.find((f) => f.endsWith(`/${p}/model.onnx`))).filter((f): f is string => f !== undefined);
  return [...chosen, ...fixtureModels().slice(0, 2)];
}

test('saving is deterministic: the same model, saved twice or reloaded and saved, gives the same bytes', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const files = someModels();
    assert.ok(files.length >= 4);
    for (const [k, f] of files.entries()) {
      const model = await loadModel(f);
      const a = join(dir, `${k}-a.onnx`);
      const b = join(dir, `${k}-b.onnx`);
      await saveModel(model, a);
      await saveModel(model, b);
      assert.ok(readFileSync(a).equals(readFileSync(b)), f);
      assert.ok(readFileSync(a).equals(Buffer.from(serializeModel(model))), f);
      const reloaded = await loadModel(a);
      assert.ok(Buffer.from(serializeModel(reloaded)).equals(readFileSync(a)), f);
      // External data too: the same model and data bytes each time (two folders, same names).
      const saved: Buffer[][] = [];
      for (const sub of ['e1', 'e2']) {
        mkdirSync(join(dir, `${k}-${sub}`));
        const p = join(dir, `${k}-${sub}`, 'm.onnx');
        await saveModel(model, p, { externalData: { threshold: 0 } });
        saved.push([readFileSync(p), existsSync(`${p}.data`) ? readFileSync(`${p}.data`) : Buffer.alloc(0)]);
      }
      assert.ok(saved[0]![0]!.equals(saved[1]![0]!) && saved[0]![1]!.equals(saved[1]![1]!), f);
    }
    assert.deepEqual(leftoverTemps(dir), []);
  } finally {
    cleanup();
  }
});

test('the input model is never overwritten, however its path is spelled', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const input = join(dir, 'in.onnx');
    writeFileSync(input, readFileSync(someModels()[0]!));
    const before = readFileSync(input);
    const model = await loadModel(input);
    symlinkSync(input, join(dir, 'alias.onnx'));
    for (const target of [input, join(dir, '.', 'sub', '..', 'in.onnx'), join(dir, 'alias.onnx')]) {
      await assert.rejects(saveModel(model, target, { force: true }), (e: unknown) => e instanceof UsageError && e.exitCode === 2 && /input model/.test(e.message), target);
    }
    assert.ok(readFileSync(input).equals(before));
    assert.deepEqual(leftoverTemps(dir), []);
  } finally {
    cleanup();
  }
});

test('an existing output is replaced only with force; bad targets are usage errors', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const model = await loadModel(someModels()[0]!);
    const out = join(dir, 'out.onnx');
    writeFileSync(out, 'old');
    await assert.rejects(saveModel(model, out), (e: unknown) => e instanceof UsageError && e.message.includes('already exists') && e.hint === 'pass --force to overwrite it');
    assert.equal(readFileSync(out, 'utf8'), 'old');
    await saveModel(model, out, { force: true });
    assert.ok(readFileSync(out).equals(Buffer.from(serializeModel(model))));

    await assert.rejects(saveModel(model, dir), UsageError, 'a folder');
    await assert.rejects(saveModel(model, join(dir, 'no', 'such', 'folder', 'm.onnx')), UsageError);
    await assert.rejects(saveModel(model, join(dir, 'x.onnx'), { externalData: { threshold: -1 } }), UsageError);
    // The data file is an output too.
    writeFileSync(join(dir, 'y.onnx.data'), 'old');
    await assert.rejects(saveModel(model, join(dir, 'y.onnx'), { externalData: { threshold: 0 } }), UsageError);
    assert.ok(!existsSync(join(dir, 'y.onnx')));
    assert.deepEqual(leftoverTemps(dir), []);
  } finally {
    cleanup();
  }
});

test('a save that fails half way leaves neither output nor temporary files', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const model = await loadModel(someModels()[0]!);
    // The model's own name fits the file system's 255-byte limit but its temporary name does not; the
    // data file (short location) is written first, so the failure comes after real writing.
    const out = join(dir, `${'m'.repeat(245)}.onnx`);
    await assert.rejects(saveModel(model, out, { externalData: { threshold: 0, location: 'w.bin' } }), (e: unknown) => e instanceof UsageError && /too long/.test(e.message));
    assert.ok(!existsSync(out));
    assert.ok(!existsSync(join(dir, 'w.bin')));
    assert.deepEqual(leftoverTemps(dir), []);
  } finally {
    cleanup();
  }
});
