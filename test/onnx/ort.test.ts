/**
 * The bytes we write run in onnxruntime exactly like the bytes we read: for every fixture and real
 * model present, the original file and three re-saved forms (as loaded; with every tensor re-encoded as
 * raw_data, as a pass that replaces data would leave it; with weights in an external data file) give
 * byte-identical outputs on the same inputs.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mulberry32 } from '../../src/core/random.js';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { ortTypeName } from '../../src/core/dtype.js';
import { openDataset, type Dataset } from '../../src/calibration/readers/index.js';
import { AttrType } from '../../src/ir/attribute.js';
import type { Model } from '../../src/ir/model.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { loadModel, readTensorProto, saveModel, serializeModel } from '../../src/onnx/index.js';
import { fixtureModels, realModels, tempDir } from './helpers.js';

type Feeds = Record<string, ort.Tensor>;

function toOrt(t: Tensor): ort.Tensor {
  const type = ortTypeName(t.dataType);
  if (!type) throw new Error(`no onnxruntime type for data type ${t.dataType}`);
  return new ort.Tensor(type, t.data as ort.Tensor['data'], t.dims);
}

const rng = mulberry32;

/** Inputs the real models need beyond their declared shapes (silero's sample rate selects a branch). */
const KNOWN_INPUTS: Record<string, Record<string, { dims: number[]; value?: bigint }>> = {
  'silero-vad-v5': { input: { dims: [1, 512] }, state: { dims: [2, 1, 128] }, sr: { dims: [], value: 16000n } },
  'silero-vad-op18': { input: { dims: [1, 512] }, sr: { dims: [], value: 16000n } },
};

/** The first batch of a dataset as onnxruntime feeds. */
function firstBatch(ds: Dataset): Feeds {
  const [b] = [...ds.batches(4)];
  const feeds: Feeds = {};
  for (const [k, t] of Object.entries(b!.feeds)) feeds[k] = new ort.Tensor(ortTypeName(t.dataType) as 'float32', t.host() as Float32Array, t.dims);
  return feeds;
}

function feedsFor(path: string, model: Model): Feeds {
  const dir = join(dirname(path), 'test_data_set_0');
  const feeds: Feeds = {};
  const inputs = model.graph.inputs.filter((v) => !v.initializer);
  // Decoders as exporters publish them: token ids (from the folder, or random), the rest filled from them.
  let decoder: Dataset | undefined;
  try {
    decoder = openDataset(existsSync(dir) ? dir : 'random:4', model, { task: 'auto', seed: 1 });
  } catch {
    decoder = undefined; // inputs random samples cannot make: the generator below knows them
  }
  if (decoder?.tokens) return firstBatch(decoder);
  if (existsSync(dir)) {
    const files = readdirSync(dir).filter((f) => /^input_\d+\.pb$/.test(f)).sort((a, b) => parseInt(a.slice(6)) - parseInt(b.slice(6)));
    files.forEach((f, i) => {
      feeds[inputs[i]!.name] = toOrt(readTensorProto(readFileSync(join(dir, f)), f));
    });
    return feeds;
  }
  const known = KNOWN_INPUTS[basename(path, '.onnx')] ?? {};
  const random = rng(1234);
  // A symbolic dim takes one size everywhere: 1 for batch-like ones (first axis, or named so), else 64.
  const symbolic = new Map<string, number>();
  const size = (d: number | string | null, i: number): number => {
    if (typeof d === 'number' && d > 0) return d;
    if (typeof d !== 'string') return i === 0 ? 1 : 64;
    if (!symbolic.has(d)) symbolic.set(d, i === 0 || /batch/i.test(d) ? 1 : 64);
    return symbolic.get(d)!;
  };
  for (const v of inputs) {
    const k = known[v.name];
    const shape = k?.dims ?? (v.shape ?? []).map(size);
    const n = shape.reduce((a, b) => a * b, 1);
    const type = ortTypeName(v.elemType ?? 1);
    if (type === 'int64') feeds[v.name] = new ort.Tensor('int64', BigInt64Array.from({ length: n }, () => k?.value ?? 0n), shape);
    else if (type === 'float32') feeds[v.name] = new ort.Tensor('float32', Float32Array.from({ length: n }, () => random() * 2 - 1), shape);
    else throw new Error(`no input generator for ${v.name} (${type})`);
  }
  return feeds;
}

async function run(source: string | Uint8Array, feeds: Feeds): Promise<Map<string, Buffer>> {
  const options: ort.InferenceSession.SessionOptions = { logSeverityLevel: 3, intraOpNumThreads: 1, interOpNumThreads: 1 };
  const session = typeof source === 'string' ? await ort.InferenceSession.create(source, options) : await ort.InferenceSession.create(source, options);
  try {
    const out = await session.run(feeds);
    const result = new Map<string, Buffer>();
    for (const name of session.outputNames) {
      const data = out[name]!.data;
      result.set(name, Array.isArray(data) ? Buffer.from(JSON.stringify(data)) : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    }
    return result;
  } finally {
    await session.release();
  }
}

/** Drops every tensor's storage memory, as if a pass had replaced the data: everything is raw_data again. */
function forgetEncodings(model: Model): void {
  for (const g of model.graph.allGraphs()) {
    for (const v of [...g.initializers, ...g.sparseInitializers]) v.initializer!.encoding = undefined;
    for (const n of g.nodes) {
      for (const a of n.attributes.values()) {
        if (a.type === AttrType.TENSOR) a.value.encoding = undefined;
        if (a.type === AttrType.TENSORS) for (const t of a.value) t.encoding = undefined;
      }
    }
  }
}

test('re-saved models give byte-identical outputs in onnxruntime', async (t) => {
  const { present, missing } = realModels();
  for (const m of missing) t.diagnostic(`not present (run node scripts/fetch-models.mjs): ${m}`);
  const files = [...fixtureModels(), ...present];
  assert.ok(files.length > 0, 'no fixtures or real models to run');
  const { dir, cleanup } = tempDir();
  try {
    for (const [k, f] of files.entries()) {
      const model = await loadModel(f);
      const feeds = feedsFor(f, model);
      const expected = await run(readFileSync(f), feeds);

      const resaved = join(dir, `m${k}.onnx`);
      await saveModel(model, resaved);
      const external = join(dir, `m${k}.external.onnx`);
      await saveModel(model, external, { externalData: true });
      forgetEncodings(model);
      const canonical = serializeModel(model);

      for (const [what, source] of [['re-saved', resaved], ['raw_data re-encoded', canonical], ['external data', external]] as const) {
        const got = await run(source, feeds);
        for (const [name, bytes] of expected) {
          assert.ok(got.get(name)?.equals(bytes), `${f} (${what}): output '${name}' differs`);
        }
      }
      t.diagnostic(`${basename(dirname(f))}/${basename(f)}: ${expected.size} output(s) identical in 3 re-saved forms`);
    }
  } finally {
    cleanup();
  }
});
