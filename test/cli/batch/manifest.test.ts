/**
 * The manifest behind --skip-existing: complete only when the input (model and data files), the options
 * (and the data files they name), the backend and every written file are as recorded; the reason when not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { batchKey, checkComplete, manifestPath, removeManifest, writeManifest } from '../../../src/cli/batch/manifest.js';
import { canonicalJson, hashFile, hashPath } from '../../../src/cli/batch/hash.js';
import { tempDir } from '../../helpers/tmp.js';

test('hashes: streamed in chunks, equal to a one-shot SHA-256; folders by their sorted files; canonical JSON', async () => {
  const dir = tempDir('compress-hash-');
  const big = Buffer.alloc((4 << 20) * 2 + 12345);
  for (let i = 0; i < big.length; i += 4093) big[i] = i & 0xff;
  writeFileSync(join(dir, 'big.bin'), big);
  const h = await hashFile(join(dir, 'big.bin'));
  assert.equal(h.bytes, big.length);
  assert.equal(h.sha256, createHash('sha256').update(big).digest('hex'));
  mkdirSync(join(dir, 'set/test_data_set_0'), { recursive: true });
  writeFileSync(join(dir, 'set/test_data_set_0/input_0.pb'), 'a');
  const before = await hashPath(join(dir, 'set'));
  writeFileSync(join(dir, 'set/test_data_set_0/input_0.pb'), 'b');
  assert.notEqual(await hashPath(join(dir, 'set')), before);
  assert.equal(canonicalJson({ b: 1, a: { d: [1, undefined], c: /x/ }, u: undefined }), '{"a":{"c":"/x/","d":[1,null]},"b":1}');
  assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
});

async function setup() {
  const dir = tempDir('compress-manifest-');
  mkdirSync(join(dir, 'in/a'), { recursive: true });
  mkdirSync(join(dir, 'out/a'), { recursive: true });
  const input = join(dir, 'in/a/model.onnx');
  const output = join(dir, 'out/a/model.quantize.onnx');
  const reportPath = `${output}.report.json`;
  writeFileSync(input, 'model bytes');
  writeFileSync(`${input}.data`, 'weights');
  writeFileSync(output, 'compressed bytes');
  writeFileSync(`${output}.data`, 'compressed weights');
  writeFileSync(reportPath, '{"report":1}');
  writeFileSync(join(dir, 'calib.npy'), 'samples');
  const key = await batchKey({ tool: 'compress 0.0.0', command: 'quantize', options: { bits: 8, dryRun: false }, data: { data: join(dir, 'calib.npy'), batchSize: 32 }, backend: 'wasm' });
  const record = {
    input,
    inputFiles: [input, `${input}.data`],
    output,
    outputFiles: [output, `${output}.data`],
    reportPath,
    backendUsed: 'wasm',
    exitCode: 0,
    bytesBefore: 18,
    bytesAfter: 34,
  };
  return { dir, input, output, reportPath, key, record };
}

test('a manifest vouches for its output until something it recorded changes', async () => {
  const { dir, input, output, reportPath, key, record } = await setup();
  const m = await writeManifest(key, record);
  assert.deepEqual(m.input.map((f) => f.name), ['model.onnx', 'model.onnx.data']);
  assert.deepEqual(m.output.map((f) => f.name), ['model.quantize.onnx', 'model.quantize.onnx.data']);
  assert.equal(m.report?.name, 'model.quantize.onnx.report.json');
  assert.deepEqual(Object.keys(m.key.data), [join(dir, 'calib.npy')], 'the data file the options name is hashed');
  assert.equal(m.key.options && (m.key.options as Record<string, unknown>).dryRun, undefined, '--dry-run is not part of the key');
  const ok = await checkComplete(input, output, reportPath, key);
  assert.equal(ok.complete, true);

  const reason = async (k = key, rp: string | null = reportPath) => {
    const v = await checkComplete(input, output, rp ?? undefined, k);
    return v.complete ? 'complete' : v.reason;
  };
  const edit = async (file: string, text: string, expected: RegExp) => {
    const was = readFileSync(file);
    writeFileSync(file, text);
    assert.match(await reason(), expected, file);
    writeFileSync(file, was);
    assert.equal(await reason(), 'complete');
  };
  await edit(input, 'other model', /the input changed \(model\.onnx\)/);
  await edit(`${input}.data`, 'other weights', /the input changed \(model\.onnx\.data\)/);
  await edit(`${output}.data`, 'tampered', /the output file model\.quantize\.onnx\.data is missing or changed/);
  await edit(reportPath, '{}', /its report is missing or changed/);
  await edit(manifestPath(output), '{not json', /unreadable/);
  // Without a report asked for, the report does not count.
  const was = readFileSync(reportPath);
  unlinkSync(reportPath);
  assert.match(await reason(), /its report is missing/);
  assert.equal(await reason(key, null), 'complete');
  writeFileSync(reportPath, was);

  const other = await batchKey({ tool: 'compress 0.0.0', command: 'quantize', options: { bits: 4 }, data: { data: join(dir, 'calib.npy'), batchSize: 32 }, backend: 'wasm' });
  assert.match(await reason(other), /made with other options \(options\)/);
  const cpu = await batchKey({ tool: 'compress 0.0.0', command: 'quantize', options: { bits: 8, dryRun: true }, data: { data: join(dir, 'calib.npy'), batchSize: 32 }, backend: 'cpu' });
  assert.match(await reason(cpu), /made with other options \(backend\)/);
  writeFileSync(join(dir, 'calib.npy'), 'other samples');
  const newData = await batchKey({ tool: 'compress 0.0.0', command: 'quantize', options: { bits: 8 }, data: { data: join(dir, 'calib.npy'), batchSize: 32 }, backend: 'wasm' });
  assert.match(await reason(newData), /the data files changed/);
  // --dry-run alone does not change the key.
  writeFileSync(join(dir, 'calib.npy'), 'samples');
  const dry = await batchKey({ tool: 'compress 0.0.0', command: 'quantize', options: { bits: 8, dryRun: true }, data: { data: join(dir, 'calib.npy'), batchSize: 32 }, backend: 'wasm' });
  assert.equal(await reason(dry), 'complete');

  await removeManifest(output);
  assert.match(await reason(), /no manifest/);
  await removeManifest(output);
});
