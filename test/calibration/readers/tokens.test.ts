/**
 * Token ids alone for decoders as exporters publish them (tokens.ts): which inputs are recognised and
 * how each is filled (mask, positions, empty past, use_cache_branch, cache_position, token types), the
 * past's sequence axis in the layouts exporters use, a past the data gives itself, and the one-line
 * errors for what cannot be filled. Then openDataset on the decoder fixtures from every data format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { DataType } from '../../../src/core/dtype.js';
import { UsageError } from '../../../src/core/errors.js';
import { fillFeeds, openDataset, planTokenFeeds, type InputSpec } from '../../../src/calibration/readers/index.js';
import { loadModel } from '../../../src/onnx/index.js';
import { RTensor } from '../../../src/runtime/value.js';
import { repoRoot } from '../../helpers/repo.js';
import { npyBytes } from './npyfile.js';

const i64 = (name: string, shape: (number | string)[]): InputSpec => ({ name, dataType: DataType.INT64, shape });
const f32 = (name: string, shape: (number | string)[]): InputSpec => ({ name, dataType: DataType.FLOAT, shape });

/** optimum's / torch dynamo's decoder inputs, two layers, with use_cache_branch (the merged layout). */
const optimum: InputSpec[] = [
  i64('input_ids', ['batch', 'seq']),
  i64('attention_mask', ['batch', 'total']),
  i64('position_ids', ['batch', 'seq']),
  f32('past_key_values.0.key', ['batch', 2, 'past', 16]),
  f32('past_key_values.0.value', ['batch', 2, 'past', 16]),
  f32('past_key_values.1.key', ['batch', 2, 'past', 16]),
  f32('past_key_values.1.value', ['batch', 2, 'past', 16]),
  { name: 'use_cache_branch', dataType: DataType.BOOL, shape: [1] },
];

function ids(batch: number, seq: number): RTensor {
  return RTensor.fromHost(DataType.INT64, [batch, seq], BigInt64Array.from({ length: batch * seq }, (_, i) => BigInt(i % 7)));
}

function values(t: RTensor): number[] {
  return Array.from(t.host() as ArrayLike<number | bigint>, Number);
}

test('a first step from the ids: mask of ones, positions 0..seq-1, empty pasts, use_cache_branch false', () => {
  const plan = planTokenFeeds(optimum, new Set(['input_ids']), false, "'ids.npy'")!;
  assert.equal(plan.ids.name, 'input_ids');
  assert.deepEqual(
    plan.fills.map((f) => [f.input.name, f.kind, f.axis]),
    [
      ['attention_mask', 'attention_mask', undefined],
      ['position_ids', 'position_ids', undefined],
      ['past_key_values.0.key', 'past', 2],
      ['past_key_values.0.value', 'past', 2],
      ['past_key_values.1.key', 'past', 2],
      ['past_key_values.1.value', 'past', 2],
      ['use_cache_branch', 'use_cache_branch', undefined],
    ],
  );
  const fed = fillFeeds(plan, { input_ids: ids(3, 5) });
  assert.deepEqual(fed.attention_mask!.dims, [3, 5]);
  assert.equal(fed.attention_mask!.dataType, DataType.INT64);
  assert.deepEqual(values(fed.attention_mask!), Array(15).fill(1));
  assert.deepEqual(fed.position_ids!.dims, [3, 5]);
  assert.deepEqual(values(fed.position_ids!), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
  for (const k of ['past_key_values.0.key', 'past_key_values.1.value']) {
    assert.deepEqual(fed[k]!.dims, [3, 2, 0, 16]);
    assert.equal(fed[k]!.dataType, DataType.FLOAT);
    assert.equal(fed[k]!.size, 0);
  }
  assert.deepEqual(fed.use_cache_branch!.dims, [1]);
  assert.equal(fed.use_cache_branch!.dataType, DataType.BOOL);
  assert.deepEqual(values(fed.use_cache_branch!), [0]);
});

test('a past the data gives sets the mask length, the positions and use_cache_branch', () => {
  const given = new Set(optimum.filter((i) => i.name.startsWith('past') || i.name === 'input_ids').map((i) => i.name));
  const plan = planTokenFeeds(optimum, given, true, "'step.npz'")!;
  assert.deepEqual(plan.pasts.map((p) => p.input.name), ['past_key_values.0.key', 'past_key_values.0.value', 'past_key_values.1.key', 'past_key_values.1.value']);
  const past = RTensor.fromHost(DataType.FLOAT, [2, 2, 4, 16], new Float32Array(2 * 2 * 4 * 16));
  const fed = fillFeeds(plan, { input_ids: ids(2, 3), 'past_key_values.0.key': past });
  assert.deepEqual(fed.attention_mask!.dims, [2, 7]);
  assert.deepEqual(values(fed.position_ids!), [4, 5, 6, 4, 5, 6]);
  assert.deepEqual(values(fed.use_cache_branch!), [1]);
  assert.equal(fed['past_key_values.0.key'], undefined, 'a given input is not filled');
  // Some pasts but not all: say which is missing.
  given.delete('past_key_values.1.value');
  assert.throws(() => planTokenFeeds(optimum, given, true, "'step.npz'"), (e: unknown) => e instanceof UsageError && /gives some past key\/values but not 'past_key_values\.1\.value'/.test(e.message));
});

test('the layouts of other exporters: GPT-2 past [2, batch, heads, past, dim], int32 ids, cache_position, token types, [1, seq] positions, a bool mask', () => {
  const inputs: InputSpec[] = [
    { name: 'input_ids', dataType: DataType.INT32, shape: ['batch_size', 'sequence_length'] },
    { name: 'attention_mask', dataType: DataType.BOOL, shape: ['batch_size', 'total_length'] },
    { name: 'position_ids', dataType: DataType.INT64, shape: [1, 'sequence_length'] },
    i64('cache_position', ['sequence_length']),
    i64('token_type_ids', ['batch_size', 'sequence_length']),
    f32('past_0', [2, 'batch_size', 4, 'past_sequence_length', 8]),
    { name: 'past_key.1', dataType: DataType.FLOAT16, shape: ['batch', 4, 'past_len', 8] },
  ];
  const plan = planTokenFeeds(inputs, new Set(['input_ids']), true, "'ids.npy'")!;
  const fed = fillFeeds(plan, { input_ids: RTensor.fromHost(DataType.INT32, [2, 3], new Int32Array(6)) });
  assert.deepEqual(fed.attention_mask!.dims, [2, 3]);
  assert.equal(fed.attention_mask!.dataType, DataType.BOOL);
  assert.deepEqual(values(fed.attention_mask!), [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(fed.position_ids!.dims, [1, 3]);
  assert.deepEqual(values(fed.cache_position!), [0, 1, 2]);
  assert.deepEqual(values(fed.token_type_ids!), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(fed.past_0!.dims, [2, 2, 4, 0, 8]);
  assert.deepEqual(fed['past_key.1']!.dims, [2, 4, 0, 8]);
  assert.equal(fed['past_key.1']!.dataType, DataType.FLOAT16);
});

test('what cannot be filled is one line naming the input and how to feed it', () => {
  const one = (inputs: InputSpec[], strict: boolean, ...fragments: RegExp[]) =>
    assert.throws(
      () => planTokenFeeds(inputs, new Set(['input_ids']), strict, "'ids.npy'"),
      (e: unknown) => e instanceof UsageError && !e.message.includes('\n') && fragments.every((f) => f.test(`${e.message} ${e.hint ?? ''}`)),
    );
  const base = [i64('input_ids', ['batch', 'seq']), i64('attention_mask', ['batch', 'total'])];
  // An unknown input beside recognised ones, with --task auto as with lm.
  one([...base, f32('pixel_values', ['batch', 3, 224, 224])], false, /model input 'pixel_values' \(FLOAT \[batch, 3, 224, 224\]\) is not in 'ids\.npy'/, /numpy\.savez/, /pixel_values=/);
  // A past whose sequence axis is fixed: an empty past cannot be fed.
  one([...base, f32('past_key_values.0.key', ['batch', 2, 7, 16])], false, /past_key_values\.0\.key/, /fixed/);
  // A name that says mask with a shape that does not.
  one([i64('input_ids', ['batch', 'seq']), f32('attention_mask', ['batch', 1, 'seq', 'seq'])], false, /attention_mask/, /attention mask/);
  // --task lm on a model whose only missing input is unknown; with auto it is simply not a decoder.
  one([i64('input_ids', ['batch', 'seq']), f32('features', ['batch', 16])], true, /'features'/);
  assert.equal(planTokenFeeds([i64('input_ids', ['batch', 'seq']), f32('features', ['batch', 16])], new Set(['input_ids']), false, "'ids.npy'"), undefined);
  // --task lm without token ids among the data.
  assert.throws(() => planTokenFeeds([f32('x', ['batch', 4]), f32('y', ['batch', 4])], new Set(['x']), true, "'x.npy'"), (e: unknown) => e instanceof UsageError && /gives no token ids/.test(e.message));
  // A filled dim that contradicts the model's numeric dim.
  const fixed = planTokenFeeds([i64('input_ids', ['batch', 'seq']), i64('attention_mask', ['batch', 16])], new Set(['input_ids']), true, "'ids.npy'")!;
  assert.throws(() => fillFeeds(fixed, { input_ids: ids(1, 8) }), (e: unknown) => e instanceof UsageError && /'attention_mask' would be \[1, 8\].*declares INT64 \[batch, 16\]/.test(e.message));
});

function i64npy(shape: number[], data: BigInt64Array): Uint8Array {
  return npyBytes('<i8', shape, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

test('openDataset feeds every input of the decoder fixtures from ids in .npy, .npz, a test folder and random:<n>', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'compress-tokens-'));
  try {
    const root = repoRoot();
    const past = await loadModel(join(root, 'fixtures', 'decoder_past', 'model.onnx'));
    const merged = await loadModel(join(root, 'fixtures', 'decoder_merged', 'model.onnx'));
    const data = BigInt64Array.from({ length: 5 * 6 }, (_, i) => BigInt((i * 13) % 256));
    writeFileSync(join(dir, 'ids.npy'), i64npy([5, 6], data));
    writeFileSync(join(dir, 'ids.npz'), zipSync({ 'tokens.npy': i64npy([5, 6], data) }));
    const specs = [join(dir, 'ids.npy'), join(dir, 'ids.npz'), join(root, 'fixtures', 'decoder_past'), 'random:5'];
    for (const model of [past, merged]) {
      const names = model.graph.inputs.map((v) => v.name);
      for (const spec of specs) {
        const ds = openDataset(spec, model, { task: spec.startsWith('random') ? 'lm' : 'auto', seed: 1 });
        assert.equal(ds.tokens, 'input_ids', spec);
        assert.deepEqual(ds.inputNames, names);
        assert.match(ds.filled!, /attention_mask \(ones\).*4 past key\/values \(empty\)/);
        const [b] = [...ds.batches(2)];
        assert.deepEqual(Object.keys(b!.feeds), names, spec);
        const seq = b!.feeds.input_ids!.dims[1]!;
        assert.deepEqual(b!.feeds.attention_mask!.dims, [2, seq]);
        assert.deepEqual(b!.feeds['past_key_values.1.value']!.dims, [2, 2, 0, 16]);
        if (spec.endsWith('.npy')) assert.deepEqual(values(b!.feeds.input_ids!), Array.from(data.subarray(0, 12), Number));
        if (model === merged) assert.deepEqual(values(b!.feeds.use_cache_branch!), [0]);
      }
    }
    // --task classification feeds only what the data holds: the .npy is one array for seven inputs.
    assert.throws(() => openDataset(join(dir, 'ids.npy'), past, { task: 'classification' }), (e: unknown) => e instanceof UsageError && /holds one array but the model has 7 inputs/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
