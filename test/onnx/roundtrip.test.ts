/**
 * load -> serialize round trips over models nobody on the team wrote: the ONNX backend test data
 * (Debian's libonnx-testdata), our fixtures, and the real models fetched into .cache/models.
 * Both byte strings are decoded with our schema and compared field by field.
 */
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel, serializeModel } from '../../src/onnx/index.js';
import { diffModelBytes, fixtureModels, realModels, testdataModels } from './helpers.js';

test('every libonnx-testdata model.onnx round-trips field for field (and byte for byte)', async () => {
  const files = testdataModels();
  assert.ok(files.length >= 900, `expected the ~1072 libonnx-testdata models, found ${files.length} (is libonnx-testdata installed?)`);
  const failures: string[] = [];
  let identical = 0;
  for (const f of files) {
    const original = readFileSync(f);
    const model = await loadModel(f);
    const again = serializeModel(model);
    const diff = diffModelBytes(original, again, 3);
    if (diff.length > 0) failures.push(`${f}: ${diff.join('; ')}`);
    if (Buffer.compare(original, again) === 0) identical++;
  }
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${files.length} models changed`);
  // The test data was written by protobuf's C++ serializer, which orders fields as protobufjs does:
  // an unchanged model must come back as the very same bytes.
  assert.equal(identical, files.length, `${files.length - identical} models round-trip field-equal but not byte-identical`);
});

test('fixtures and real models round-trip field for field', async (t) => {
  const { present, missing } = realModels();
  for (const m of missing) t.diagnostic(`not present (run node scripts/fetch-models.mjs): ${m}`);
  const files = [...fixtureModels(), ...present];
  t.diagnostic(`${files.length} fixture / real models`);
  for (const f of files) {
    const original = readFileSync(f);
    const model = await loadModel(f);
    const again = serializeModel(model);
    assert.deepEqual(diffModelBytes(original, again), [], f);
    if (Buffer.compare(original, again) !== 0) t.diagnostic(`${f}: field-equal, bytes differ`);
  }
});

test('a second round trip is a fixed point', async () => {
  const files = [...testdataModels().filter((_, i) => i % 50 === 0), ...fixtureModels()];
  for (const f of files) {
    const once = serializeModel(await loadModel(f));
    const twice = serializeModel(await loadModel(once));
    assert.equal(Buffer.compare(once, twice), 0, f);
  }
});
