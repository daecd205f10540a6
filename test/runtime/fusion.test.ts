/**
 * Epilogue fusion (runtime/fusion.ts) and channels-last values (RTensor.fromNhwc): the chains the plan
 * finds, when the session applies them and when not (training, observed or fetched intermediates,
 * unsupported Clip bounds, non-per-channel operands), and that fused and channels-last runs agree with
 * onnxruntime and with the same graph run node by node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/core/dtype.js';
import { makeAttr } from '../../src/ir/attribute.js';
import { Graph, Model, Tensor } from '../../src/ir/index.js';
import type { Node } from '../../src/ir/node.js';
import { planFusions } from '../../src/runtime/fusion.js';
import { tf } from '../../src/runtime/backend.js';
import { Session } from '../../src/runtime/session.js';
import { RTensor } from '../../src/runtime/value.js';
import { alias } from '../../src/runtime/kernel.js';
import { maxDiff, randFloats, rng, runOrt, type NodeSpec } from './ops/quantHarness.js';
import { kernelBackends, testBackend } from '../helpers/backend.js';

const FLOAT = DataType.FLOAT;

interface Def {
  op: string;
  inputs: string[];
  out: string;
  attrs?: Record<string, number | number[]>;
}

/**
 * A model from node definitions: `feeds` are float inputs, `consts` float initializers (seeded random
 * unless given), `outputs` the graph outputs.
 */
function build(feeds: Record<string, number[]>, consts: Record<string, number[] | { dims: number[]; data: number[] }>, defs: Def[], outputs: string[], opset = 17): Model {
  const g = new Graph('g');
  const r = rng(7);
  for (const [name, dims] of Object.entries(feeds)) g.addInput(name, { kind: 'tensor', elemType: FLOAT, shape: dims });
  for (const [name, c] of Object.entries(consts)) {
    const dims = Array.isArray(c) ? c : c.dims;
    const data = Array.isArray(c) ? randFloats(r, dims.reduce((a, b) => a * b, 1), -1, 1) : Float32Array.from(c.data);
    g.addInitializer(name, new Tensor(FLOAT, dims, data), true);
  }
  for (const d of defs) {
    const attributes = Object.entries(d.attrs ?? {}).map(([k, v]) => makeAttr(k, v, typeof v === 'number' && !Number.isInteger(v) ? 'float' : undefined));
    g.createNode({ opType: d.op, inputs: d.inputs.map((n) => (n ? g.value(n)! : null)), attributes, outputs: [d.out], name: d.out });
  }
  for (const o of outputs) {
    const v = g.value(o)!;
    v.type = { kind: 'tensor', elemType: FLOAT };
    g.outputs.push(v);
  }
  return new Model(g, 8, [{ domain: '', version: opset }]);
}

function feedsOf(model: Model, seed = 3): Record<string, RTensor> {
  const r = rng(seed);
  const out: Record<string, RTensor> = {};
  for (const v of model.graph.inputs.filter((i) => !i.initializer)) {
    const dims = v.shape as number[];
    out[v.name] = RTensor.fromHost(FLOAT, dims, randFloats(r, dims.reduce((a, b) => a * b, 1), -2, 2));
  }
  return out;
}

/** Runs once (a warm-up) and again, recording which nodes ran fused with which; returns the outputs. */
function runRecording(s: Session, feeds: Record<string, RTensor>, options: Parameters<Session['runSync']>[1] = {}): { out: Map<string, number[]>; fused: Map<string, string[]> } {
  for (const t of s.runSync(feeds, options).values()) t.dispose();
  const fused = new Map<string, string[]>();
  const res = s.runSync(feeds, { ...options, afterNode: (n: Node, _o, absorbed) => void (absorbed && fused.set(n.name, absorbed.map((a) => a.opType))) });
  const out = new Map<string, number[]>();
  for (const [k, t] of res) {
    out.set(k, Array.from(t.float32()));
    t.dispose();
  }
  return { out, fused };
}

/** Max |a - b| over max |b|. */
function rel(a: number[], b: number[]): number {
  const { diff, scale } = maxDiff(a, b);
  return diff / Math.max(scale, 1e-30);
}

async function ortOutputs(model: Model, feeds: Record<string, RTensor>): Promise<Map<string, number[]>> {
  const spec: NodeSpec = { opType: '', opset: 17, inputs: Object.entries(feeds).map(([name, t]) => ({ name, dataType: FLOAT, dims: t.dims, data: t.host() as Float32Array })), outputs: [] };
  const ref = await runOrt(model, spec);
  if (typeof ref === 'string') throw new Error(`onnxruntime refused the model: ${ref}`);
  return new Map(Object.entries(ref).map(([k, v]) => [k, v.values]));
}

/** A MobileNet-style block: Conv -> Mul(scalar) -> Add(per-channel) -> Clip(0, 6), then a pointwise Conv -> BN -> Relu. */
function blockModel(clipMax = 6): Model {
  return build(
    { x: [2, 4, 9, 11] },
    {
      w1: [8, 4, 3, 3],
      b1: [8],
      s: [1],
      t: [8, 1, 1],
      lo: { dims: [], data: [0] },
      hi: { dims: [], data: [clipMax] },
      w2: [6, 8, 1, 1],
      gamma: [6],
      beta: [6],
      mean: [6],
      varc: { dims: [6], data: [0.5, 1, 1.5, 2, 0.25, 3] },
    },
    [
      { op: 'Conv', inputs: ['x', 'w1', 'b1'], out: 'c1', attrs: { pads: [1, 1, 1, 1], strides: [1, 2] } },
      { op: 'Mul', inputs: ['s', 'c1'], out: 'm1' },
      { op: 'Add', inputs: ['m1', 't'], out: 'a1' },
      { op: 'Clip', inputs: ['a1', 'lo', 'hi'], out: 'r1' },
      { op: 'Conv', inputs: ['r1', 'w2'], out: 'c2' },
      { op: 'BatchNormalization', inputs: ['c2', 'gamma', 'beta', 'mean', 'varc'], out: 'n2' },
      { op: 'Relu', inputs: ['n2'], out: 'y' },
    ],
    ['y'],
  );
}

test('planFusions: Conv and MatMul chains of affine steps on constants and a final activation', () => {
  const m = build(
    { x: [1, 2, 4, 4], a: [3, 5] },
    { w: [3, 2, 1, 1], k: [1], bw: [5, 4], bias: [4] },
    [
      { op: 'Conv', inputs: ['x', 'w'], out: 'c' },
      { op: 'Mul', inputs: ['c', 'k'], out: 'm' },
      { op: 'Relu', inputs: ['m'], out: 'r' },
      { op: 'Sigmoid', inputs: ['r'], out: 'y1' },
      { op: 'MatMul', inputs: ['a', 'bw'], out: 'p' },
      { op: 'Add', inputs: ['bias', 'p'], out: 'q' },
      { op: 'Sub', inputs: ['bias', 'q'], out: 'y2' },
    ],
    ['y1', 'y2'],
  );
  const g = m.graph;
  const constant = (v: { initializer?: unknown }) => v.initializer !== undefined;
  const plan = planFusions(g, constant, () => true);
  const conv = g.nodes.find((n) => n.opType === 'Conv')!;
  const mm = g.nodes.find((n) => n.opType === 'MatMul')!;
  assert.deepEqual(plan.get(conv)!.chain.flatMap((l) => l.nodes.map((n) => n.opType)), ['Mul', 'Relu'], 'the chain ends at the activation');
  // k - x (the chain value as the subtrahend) is not an affine step of the fused form.
  assert.deepEqual(plan.get(mm)!.chain.flatMap((l) => l.nodes.map((n) => n.opType)), ['Add']);
  // A second reader of the conv's output leaves nothing to fuse.
  g.createNode({ opType: 'Neg', inputs: [g.value('c')!], outputs: ['n'] });
  assert.equal(planFusions(g, constant, () => true).has(conv), false);
});

for (const backend of kernelBackends) {
  test(`fused Conv epilogues (Mul, Add, Clip to relu6; BN, Relu) match onnxruntime and the unfused run on ${backend}`, async () => {
    const model = blockModel();
    const feeds = feedsOf(model);
    const s = await Session.create(model, { backend });
    const fused = runRecording(s, feeds);
    assert.deepEqual(Object.fromEntries(fused.fused), { c1: ['Mul', 'Add', 'Clip'], c2: ['BatchNormalization', 'Relu'] });
    // An observer of every value sees every intermediate, so nothing is fused.
    const unfused = runRecording(s, feeds, { observe: () => {} });
    assert.equal(unfused.fused.size, 0);
    const ref = await ortOutputs(model, feeds);
    assert.ok(rel(fused.out.get('y')!, ref.get('y')!) < 1e-5, `fused vs onnxruntime: ${rel(fused.out.get('y')!, ref.get('y')!)}`);
    assert.ok(rel(unfused.out.get('y')!, ref.get('y')!) < 1e-5);
    s.dispose();
  });
}

test('a fusion stops where an intermediate is fetched, observed, or the Clip bounds are not [0, 6] / [0, inf)', async () => {
  const s = await Session.create(blockModel(), { backend: testBackend });
  const feeds = feedsOf(s.model);
  const fetched = runRecording(s, feeds, { outputs: ['y', 'm1'] });
  assert.deepEqual(fetched.fused.get('c1'), ['Mul'], 'm1 is fetched: the chain ends there');
  const plain = runRecording(s, feeds, { outputs: ['y', 'm1'], observe: () => {} });
  assert.ok(rel(fetched.out.get('m1')!, plain.out.get('m1')!) < 1e-6);
  assert.deepEqual(fetched.fused.get('c2'), ['BatchNormalization', 'Relu']);
  const observed = runRecording(s, feeds, { observe: () => {}, observeFilter: (v) => v.name === 'a1' });
  assert.deepEqual(observed.fused.get('c1'), ['Mul', 'Add'], 'a1 is observed: the Clip runs on its own');
  s.dispose();
  const odd = await Session.create(blockModel(5), { backend: testBackend });
  const r = runRecording(odd, feeds);
  assert.deepEqual(r.fused.get('c1'), ['Mul', 'Add'], 'Clip to [0, 5] is no tfjs activation');
  const ref = await ortOutputs(odd.model, feeds);
  assert.ok(rel(r.out.get('y')!, ref.get('y')!) < 1e-5);
  odd.dispose();
});

test('training runs are never fused and keep NCHW values (gradients flow through plain tfjs ops)', async () => {
  const s = await Session.create(blockModel(), { backend: testBackend });
  const feeds = feedsOf(s.model);
  const layouts: boolean[] = [];
  const fusedNodes: string[] = [];
  const vars = s.makeTrainable(['w1', 'w2']);
  const { value, grads } = tf.variableGrads(() => {
    const out = s.runSync(feeds, { training: true, afterNode: (n, outs, absorbed) => void (absorbed && fusedNodes.push(n.name), outs.forEach((t) => t && layouts.push(t.channelsLast))) });
    return tf.sum(out.get('y')!.tf);
  }, [...vars.values()]);
  assert.deepEqual(fusedNodes, []);
  assert.ok(layouts.length > 0 && layouts.every((cl) => !cl));
  for (const g of Object.values(grads)) assert.ok(Number.isFinite(tf.sum(tf.abs(g)).dataSync()[0]!) && tf.sum(tf.abs(g)).dataSync()[0]! > 0);
  value.dispose();
  s.dispose();
});

test('MatMul + bias Add (either operand order) runs as one fused product, equal to onnxruntime', async () => {
  const model = build(
    { x: [2, 5, 16] },
    { w: [16, 12], bias: [12], k: [1, 12] },
    [
      { op: 'MatMul', inputs: ['x', 'w'], out: 'p' },
      { op: 'Add', inputs: ['bias', 'p'], out: 'q' },
      { op: 'Mul', inputs: ['q', 'k'], out: 'y' },
    ],
    ['y'],
  );
  const feeds = feedsOf(model);
  const s = await Session.create(model, { backend: testBackend });
  const r = runRecording(s, feeds);
  assert.deepEqual(Object.fromEntries(r.fused), { p: ['Add', 'Mul'] });
  const ref = await ortOutputs(model, feeds);
  assert.ok(rel(r.out.get('y')!, ref.get('y')!) < 1e-5);
  s.dispose();
});

test('channels-last values flow from Conv through elementwise ops, pools, BN and Concat, and read back as NCHW', async () => {
  const model = build(
    { x: [2, 3, 12, 10], other: [2, 6, 6, 5] },
    { w: [6, 3, 3, 3], pc: [6, 1, 1], sc: { dims: [], data: [0.5] }, g: [6], b: [6], mu: [6], v: { dims: [6], data: [1, 2, 3, 1, 2, 3] } },
    [
      { op: 'Conv', inputs: ['x', 'w'], out: 'c', attrs: { pads: [1, 1, 1, 1] } },
      { op: 'Sigmoid', inputs: ['c'], out: 'sg' },
      { op: 'Mul', inputs: ['c', 'sg'], out: 'sw' },
      { op: 'MaxPool', inputs: ['sw'], out: 'mp', attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
      { op: 'Sub', inputs: ['mp', 'pc'], out: 'sb' },
      { op: 'Div', inputs: ['sb', 'sc'], out: 'dv' },
      { op: 'Add', inputs: ['dv', 'other'], out: 'ad' },
      { op: 'BatchNormalization', inputs: ['ad', 'g', 'b', 'mu', 'v'], out: 'bn' },
      { op: 'AveragePool', inputs: ['bn'], out: 'ap', attrs: { kernel_shape: [3, 2], strides: [1, 1], pads: [1, 0, 1, 1] } },
      { op: 'GlobalAveragePool', inputs: ['ap'], out: 'ga' },
      { op: 'GlobalMaxPool', inputs: ['ap'], out: 'gm' },
      { op: 'Concat', inputs: ['ga', 'gm'], out: 'y', attrs: { axis: 1 } },
      { op: 'Transpose', inputs: ['ap'], out: 'z', attrs: { perm: [0, 2, 3, 1] } },
    ],
    ['y', 'z', 'sw'],
  );
  const feeds = feedsOf(model);
  const s = await Session.create(model, { backend: testBackend });
  const layout = new Map<string, boolean>();
  const res = s.runSync(feeds, { observe: (v, t) => layout.set(v.name, t.channelsLast) });
  for (const name of ['c', 'sg', 'sw', 'mp', 'sb', 'dv', 'ad', 'bn', 'ap', 'ga', 'gm', 'y']) assert.equal(layout.get(name), true, `${name} stays channels-last`);
  assert.equal(layout.get('z'), false, 'Transpose reads NCHW');
  const ref = await ortOutputs(model, feeds);
  for (const [k, t] of res) {
    assert.deepEqual(t.dims, k === 'y' ? [2, 12, 1, 1] : k === 'z' ? [2, 6, 5, 6] : [2, 6, 12, 10]);
    assert.ok(rel(Array.from(t.float32()), ref.get(k)!) < 1e-5, `${k}: ${rel(Array.from(t.float32()), ref.get(k)!)}`);
    t.dispose();
  }
  s.dispose();
});

test('layouts that differ only by axes of size 1 convert by reshape and read back the same values', () => {
  const before = tf.memory().numTensors;
  // One channel: [N, 1, H, W] and [N, H, W, 1] hold the same bytes.
  const gray = RTensor.fromNumbers(DataType.FLOAT, [2, 1, 2, 3], Array.from({ length: 12 }, (_, i) => i));
  const g = gray.nhwc();
  assert.deepEqual(g.shape, [2, 2, 3, 1]);
  assert.deepEqual(Array.from(g.dataSync()), Array.from({ length: 12 }, (_, i) => i));
  g.dispose();
  // A 1x1 image held channels-last reads back as [N, C, 1, 1] in the same order.
  const pooled = RTensor.fromNhwc(tf.tensor4d(Float32Array.from({ length: 6 }, (_, i) => i * 10), [2, 1, 1, 3]));
  assert.deepEqual(pooled.dims, [2, 3, 1, 1]);
  assert.deepEqual(Array.from(pooled.float32()), [0, 10, 20, 30, 40, 50]);
  assert.deepEqual(pooled.tf.shape, [2, 3, 1, 1]);
  // Several channels still transpose: [1, 2, 1, 2] NCHW to NHWC interleaves the channels.
  const two = RTensor.fromNumbers(DataType.FLOAT, [1, 2, 1, 2], [1, 2, 3, 4]);
  const t = two.nhwc();
  assert.deepEqual(Array.from(t.dataSync()), [1, 3, 2, 4]);
  t.dispose();
  for (const r of [gray, pooled, two]) r.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('a channels-last RTensor: NCHW dims, transposed on first read, aliased in its layout, disposed whole', () => {
  const before = tf.memory().numTensors;
  const nhwc = tf.tensor4d(Float32Array.from({ length: 24 }, (_, i) => i), [1, 2, 3, 4]);
  const t = RTensor.fromNhwc(nhwc);
  assert.deepEqual(t.dims, [1, 4, 2, 3]);
  assert.equal(t.channelsLast, true);
  assert.equal(t.nhwc(), nhwc);
  const a = alias(t);
  assert.equal(a.channelsLast, true);
  // Element [0, c, h, w] of the value is nhwc[0, h, w, c] = (h * 3 + w) * 4 + c.
  assert.deepEqual(Array.from(t.float32()).slice(0, 7), [0, 4, 8, 12, 16, 20, 1]);
  assert.equal(t.channelsLast, true, 'still held channels-last after the NCHW read');
  t.dispose();
  a.dispose();
  assert.equal(tf.memory().numTensors, before);
});
