/**
 * IR versions 12 and 13 (issue 14, item 7): models onnx 1.23 saved at those versions
 * (fixtures/make_ir_versions.py) load, save back at the same version with every field, and the saved
 * model runs in onnxruntime-node (1.30 loads IR <= 13) with the original's results.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { loadModel, saveModel, serializeModel, MAX_IR_VERSION } from '../../src/onnx/index.js';
import { decodeModelProto } from '../../src/onnx/schema.js';
import { repoRoot } from '../helpers/repo.js';
import { diffModelBytes, tempDir } from './helpers.js';

test('compress reads up to IR 13, the newest onnxruntime 1.30 loads', () => {
  assert.equal(MAX_IR_VERSION, 13);
});

for (const ir of [12, 13]) {
  test(`an IR ${ir} model round-trips field for field and runs in onnxruntime-node`, async () => {
    const path = join(repoRoot(), 'fixtures', 'ir', `ir${ir}.onnx`);
    const bytes = new Uint8Array(readFileSync(path));
    const model = await loadModel(path);
    assert.equal(model.irVersion, ir);
    const again = serializeModel(model);
    assert.deepEqual(diffModelBytes(bytes, again), []);
    const proto = decodeModelProto(again);
    assert.equal(Number(proto.irVersion), ir);
    const pairs = (list?: { key?: string; value?: string }[]) => (list ?? []).map((p) => [p.key, p.value]);
    assert.deepEqual(pairs(proto.metadataProps), [['ir', String(ir)]]);
    assert.deepEqual(pairs(proto.graph!.node![0]!.metadataProps), [['note', `written at IR ${ir}`]]);

    const { dir, cleanup } = tempDir();
    try {
      const out = join(dir, 'copy.onnx');
      await saveModel(model, out);
      const x = Float32Array.from({ length: 8 }, (_, i) => i - 3);
      const feeds = { x: new ort.Tensor('float32', x, [2, 4]) };
      const [a, b] = await Promise.all([ort.InferenceSession.create(path), ort.InferenceSession.create(out)]);
      const ya = (await a.run(feeds)).y!.data as Float32Array;
      const yb = (await b.run(feeds)).y!.data as Float32Array;
      assert.deepEqual(Array.from(yb), Array.from(ya));
      // Relu(x W) for the first row x = [-3, -2, -1, 0], W[i][j] = (3 i + j - 5) / 10.
      const want = [0, 1, 2].map((j) => Math.max(0, [-3, -2, -1, 0].reduce((s, xi, i) => s + xi * ((3 * i + j - 5) / 10), 0)));
      want.forEach((w, j) => assert.ok(Math.abs(ya[j]! - w) < 1e-6, `y[0][${j}] = ${ya[j]}, expected ${w}`));
      await Promise.all([a.release(), b.release()]);
    } finally {
      cleanup();
    }
  });
}
