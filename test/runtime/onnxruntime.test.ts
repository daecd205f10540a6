/**
 * Our executor against onnxruntime-node, the reference runtime, on whole models: every fixture
 * (fixtures/<name>/model.onnx fed its test_data_set_0 inputs) and every real model fetched into
 * .cache/models/ by scripts/fetch-models.mjs (fed seeded random inputs of a valid shape). Both run the
 * same feeds; each output must agree within 1e-4 of its scale (max |ours - ort| / max |ort|), the scale
 * floored at 1e-2: on noise, ppocr-det's text probabilities are all below 1e-3, where the ratio measures
 * float32 rounding of the sigmoid's tail rather than the model (its logits agree to ~1e-6 of their scale).
 * A real model that uses an op we have no kernel for is reported (which ops block it), not failed;
 * every fixture must run.
 */
import { test } from 'node:test';
import { mulberry32 } from '../../src/core/random.js';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { DataType, dataTypeName, ortTypeName } from '../../src/core/dtype.js';
import { CompressError } from '../../src/core/errors.js';
import type { Model } from '../../src/ir/model.js';
import { sizeOf, Tensor } from '../../src/ir/tensor.js';
import { openDataset } from '../../src/calibration/readers/index.js';
import { loadModel, readTensorProto } from '../../src/onnx/index.js';
import { Session } from '../../src/runtime/session.js';
import { decodeToNumbers, RTensor } from '../../src/runtime/value.js';
import { testBackend } from '../helpers/backend.js';

/** Agreement asked of every output: max abs difference over max abs reference value (floored). */
const REL_TOL = 1e-4;
const SCALE_FLOOR = 1e-2;

/** The checkout: the nearest folder above this file holding package.json (dist/ and .build/<name>/ alike). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'src'))) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

const repo = repoRoot();
const fixturesDir = join(repo, 'fixtures');
const modelsDir = join(repo, '.cache', 'models');

const rng = mulberry32;

/** How to feed one input of a real model: its dims (symbolic ones fixed), and zeros or a fixed value instead of noise. */
interface InputPlan {
  dims: number[];
  zeros?: boolean;
  value?: number;
}

/** Valid inputs for the real models of README.md (silero: 512 samples of 16 kHz audio, zero LSTM state). */
const realInputs: Record<string, Record<string, InputPlan>> = {
  'ppocr-rec-v4': { x: { dims: [1, 3, 48, 320] } },
  'ppocr-det-v4': { x: { dims: [1, 3, 320, 320] } },
  'ppocr-cls-v2': { x: { dims: [1, 3, 48, 192] } },
  'silero-vad-v5': { input: { dims: [1, 512] }, state: { dims: [2, 1, 128], zeros: true }, sr: { dims: [], value: 16000 } },
  'silero-vad-op18': { input: { dims: [1, 512] }, state: { dims: [2, 1, 128], zeros: true }, sr: { dims: [], value: 16000 } },
};

function fillTensor(dataType: number, dims: number[], plan: InputPlan, random: () => number): Tensor {
  const n = sizeOf(dims);
  const v = (_i: number) => plan.value ?? (plan.zeros ? 0 : random() * 2 - 1);
  switch (dataType) {
    case DataType.FLOAT:
      return new Tensor(dataType, dims, Float32Array.from({ length: n }, (_, i) => v(i)));
    case DataType.INT64:
      return new Tensor(dataType, dims, BigInt64Array.from({ length: n }, (_, i) => BigInt(Math.round(v(i)))));
    case DataType.INT32:
      return new Tensor(dataType, dims, Int32Array.from({ length: n }, (_, i) => Math.round(v(i))));
    default:
      throw new Error(`no random input of type ${dataTypeName(dataType)}`);
  }
}

/** The inputs of a real model: names and types from its value info, dims from the table above. */
function realFeeds(name: string, model: Model, ortInputs: readonly string[]): Map<string, Tensor> {
  const plans: Record<string, InputPlan> | undefined = realInputs[name];
  assert.ok(plans, `no input plan for the real model '${name}': add one to realInputs`);
  const random = rng(1234);
  const feeds = new Map<string, Tensor>();
  const formal = model.graph.inputs.filter((v) => !v.initializer);
  assert.deepEqual([...formal.map((v) => v.name)].sort(), [...ortInputs].sort(), `${name}: our graph inputs differ from onnxruntime's`);
  for (const v of formal) {
    const plan: InputPlan | undefined = plans[v.name];
    assert.ok(plan, `${name}: no plan for input '${v.name}'`);
    const shape = v.shape;
    if (shape) {
      assert.equal(shape.length, plan.dims.length, `${name}: input '${v.name}' has rank ${shape.length}`);
      shape.forEach((d, i) => typeof d === 'number' && assert.equal(plan.dims[i], d, `${name}: input '${v.name}' dim ${i} is fixed at ${d}`));
    }
    feeds.set(v.name, fillTensor(v.elemType ?? DataType.FLOAT, plan.dims, plan, random));
  }
  return feeds;
}

/** A fixture's test_data_set_0 inputs, matched to the graph inputs in order. */
function fixtureFeeds(dir: string, model: Model): Map<string, Tensor> {
  const ds = join(dir, 'test_data_set_0');
  const files = readdirSync(ds)
    .filter((f) => /^input_\d+\.pb$/.test(f))
    .sort((a, b) => Number(a.slice(6, -3)) - Number(b.slice(6, -3)));
  const formal = model.graph.inputs.filter((v) => !v.initializer);
  if (files.length < formal.length) {
    // A decoder's folder holds its token ids alone: the other inputs are filled as --data fills them.
    const [batch] = [...openDataset(ds, model, { task: 'lm' }).batches(1 << 20)];
    return new Map(Object.entries(batch!.feeds).map(([k, t]) => [k, new Tensor(t.dataType, t.dims.slice(), t.host())]));
  }
  assert.equal(files.length, formal.length, `${dir}: ${files.length} input files for ${formal.length} graph inputs`);
  return new Map(files.map((f, i) => [formal[i]!.name, readTensorProto(readFileSync(join(ds, f)), join(ds, f))]));
}

function toOrt(t: Tensor): ort.Tensor {
  const type = ortTypeName(t.dataType);
  if (!type) throw new Error(`onnxruntime-node cannot take ${dataTypeName(t.dataType)} inputs`);
  return new ort.Tensor(type as 'float32', t.data as Float32Array, t.dims);
}

/** Output values as plain numbers (fp16 decoded). */
function ortValues(t: ort.Tensor): number[] {
  if (t.type === 'float16') return decodeToNumbers(DataType.FLOAT16, t.data as Uint16Array);
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

interface Comparison {
  name: string;
  rel: number;
  maxDiff: number;
  scale: number;
}

/** Runs both runtimes on the feeds and measures each output's agreement. */
async function compare(label: string, path: string, model: Model, feeds: Map<string, Tensor>): Promise<{ outputs: Comparison[]; oursMs: number; ortMs: number }> {
  const session = await ort.InferenceSession.create(path, { logSeverityLevel: 3 });
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of feeds) ortFeeds[k] = toOrt(t);
  let t0 = performance.now();
  const ref = await session.run(ortFeeds);
  const ortMs = performance.now() - t0;
  await session.release();

  const ours = await Session.create(model, { backend: testBackend });
  const rfeeds = new Map<string, RTensor>();
  for (const [k, t] of feeds) rfeeds.set(k, RTensor.fromIr(t));
  t0 = performance.now();
  const out = ours.runSync(rfeeds);
  const oursMs = performance.now() - t0;
  const outputs: Comparison[] = [];
  try {
    for (const [name, r] of Object.entries(ref)) {
      const u = out.get(name);
      assert.ok(u, `${label}: we did not produce output '${name}'`);
      assert.equal(ortTypeName(u.dataType), r.type, `${label}: output '${name}' type`);
      assert.deepEqual(u.dims, Array.from(r.dims, Number), `${label}: output '${name}' dims`);
      const a = u.numbers();
      const b = ortValues(r);
      let maxDiff = 0;
      let scale = 0;
      for (let i = 0; i < b.length; i++) {
        const d = Math.abs(a[i]! - b[i]!);
        if (d > maxDiff || Number.isNaN(d)) maxDiff = d;
        scale = Math.max(scale, Math.abs(b[i]!));
      }
      outputs.push({ name, maxDiff, scale, rel: maxDiff / Math.max(scale, SCALE_FLOOR) });
    }
  } finally {
    for (const t of out.values()) t.dispose();
    ours.dispose();
  }
  return { outputs, oursMs, ortMs };
}

function describe(r: { outputs: Comparison[]; oursMs: number; ortMs: number }): string {
  const outs = r.outputs.map((o) => `${o.name}: max|diff| ${o.maxDiff.toExponential(2)}, scale ${o.scale.toExponential(2)}, ratio ${o.rel.toExponential(2)}`).join('; ');
  return `${outs}; ours ${r.oursMs.toFixed(0)} ms, onnxruntime ${r.ortMs.toFixed(0)} ms`;
}

function assertAgree(label: string, r: { outputs: Comparison[] }): void {
  assert.ok(r.outputs.length > 0, `${label}: no outputs compared`);
  for (const o of r.outputs) assert.ok(o.rel <= REL_TOL, `${label}: output '${o.name}' differs from onnxruntime by ${o.rel.toExponential(2)} of its scale (max |diff| ${o.maxDiff}, scale ${o.scale})`);
}

const fixtures = existsSync(fixturesDir)
  ? readdirSync(fixturesDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(fixturesDir, d.name, 'model.onnx')) && existsSync(join(fixturesDir, d.name, 'test_data_set_0')))
      .map((d) => d.name)
      .sort()
  : [];
const realModels = existsSync(modelsDir)
  ? readdirSync(modelsDir)
      .filter((f) => f.endsWith('.onnx'))
      .map((f) => f.slice(0, -5))
      .sort()
  : [];

const fixturesRun: string[] = [];

for (const name of fixtures) {
  test(`onnxruntime: fixture ${name}`, async (t) => {
    const dir = join(fixturesDir, name);
    const path = join(dir, 'model.onnx');
    const model = await loadModel(path);
    const r = await compare(name, path, model, fixtureFeeds(dir, model));
    t.diagnostic(describe(r));
    assertAgree(name, r);
    fixturesRun.push(name);
  });
}

for (const name of realModels) {
  test(`onnxruntime: real model ${name}`, async (t) => {
    const path = join(modelsDir, `${name}.onnx`);
    const model = await loadModel(path);
    const probe = await ort.InferenceSession.create(path, { logSeverityLevel: 3 });
    const feeds = realFeeds(name, model, probe.inputNames);
    await probe.release();
    let r;
    try {
      r = await compare(name, path, model, feeds);
    } catch (e) {
      // Ops we have no kernel for block the model: say which, and hold the rest of the suite to it.
      if (e instanceof CompressError && /unsupported ops/.test(e.message)) {
        assert.equal(e.exitCode, 3);
        t.diagnostic(`${name} is blocked by ${e.message}`);
        return;
      }
      throw e;
    }
    t.diagnostic(describe(r));
    assertAgree(name, r);
  });
}

test('onnxruntime: the fixtures ran', () => {
  assert.ok(fixtures.length > 0, `no fixtures under ${fixturesDir} (fixtures/<name>/model.onnx with test_data_set_0/)`);
  assert.deepEqual(fixturesRun.sort(), fixtures, 'every fixture must run in our Session and agree with onnxruntime');
});
