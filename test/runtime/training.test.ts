/**
 * Training mode: gradients through the NN kernels, checked against central finite differences on both
 * backends. Every parameter (and the input X, to exercise each kernel's input gradient) is an
 * initializer made trainable; the loss is sum(Y * R) for a fixed random R; for a few elements per
 * parameter, (L(p + h) - L(p - h)) / 2h must agree with tf.variableGrads within 1e-2 relative error.
 *
 * The wasm backend lacks Conv2DBackpropFilter and the depthwise backprop kernels, so these cases also
 * prove util/conv.ts's own conv gradients there.
 */
import { test } from 'node:test';
import { mulberry32 } from '../../src/core/random.js';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataType } from '../../src/core/dtype.js';
import { makeAttr } from '../../src/ir/attribute.js';
import { Graph, Model, Tensor } from '../../src/ir/index.js';
import { loadModel, readTensorProto } from '../../src/onnx/index.js';
import type { Value } from '../../src/ir/value.js';
import { tf, type BackendName } from '../../src/runtime/backend.js';
import { Session } from '../../src/runtime/session.js';
import { RTensor } from '../../src/runtime/value.js';
import { kernelBackends, testBackend } from '../helpers/backend.js';

const backends: BackendName[] = kernelBackends;
const TOL = 1e-2;

const rng = mulberry32;

type Attrs = Record<string, number | number[] | string>;

interface NodeDef {
  op: string;
  /** Names of values (parameters or earlier outputs); '' for an omitted input. */
  inputs: string[];
  attrs?: Attrs;
  out: string;
  opset?: number;
}

interface Case {
  name: string;
  /** Trainable parameters (the input X among them) with their dims. */
  params: Record<string, number[]>;
  /** Constant (non-trainable) initializers with their values. */
  consts?: Record<string, { dims: number[]; values: number[] }>;
  /** Constant int64 vectors (shapes, axes). */
  ints?: Record<string, number[]>;
  nodes: NodeDef[];
  opset?: number;
  /** Finite-difference step; the ops linear in every parameter take a large one (no truncation error). */
  h?: number;
}

function buildModel(c: Case, r: () => number): Model {
  const g = new Graph('g');
  const values = new Map<string, Value>();
  for (const [name, dims] of Object.entries(c.params)) {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, () => r() * 2 - 1);
    // Variances must stay positive.
    if (name.startsWith('var')) for (let i = 0; i < n; i++) data[i] = 0.5 + Math.abs(data[i]!);
    values.set(name, g.addInitializer(name, new Tensor(DataType.FLOAT, dims, data), true));
  }
  for (const [name, { dims, values: v }] of Object.entries(c.consts ?? {})) values.set(name, g.addInitializer(name, new Tensor(DataType.FLOAT, dims, Float32Array.from(v)), true));
  for (const [name, v] of Object.entries(c.ints ?? {})) values.set(name, g.addInitializer(name, new Tensor(DataType.INT64, [v.length], BigInt64Array.from(v.map(BigInt))), true));
  let last: Value | undefined;
  for (const nd of c.nodes) {
    const attributes = Object.entries(nd.attrs ?? {}).map(([k, v]) => makeAttr(k, v, typeof v === 'number' && !Number.isInteger(v) ? 'float' : undefined));
    const node = g.createNode({ opType: nd.op, inputs: nd.inputs.map((n) => (n ? values.get(n)! : null)), attributes, outputs: [nd.out] });
    last = node.output(0)!;
    values.set(nd.out, last);
  }
  g.outputs.push(last!);
  return new Model(g, 8, [{ domain: '', version: c.opset ?? 13 }]);
}

const cases: Case[] = [
  {
    name: 'Conv, stride 2, asymmetric pads, bias',
    params: { x: [2, 3, 7, 7], w: [4, 3, 3, 3], b: [4] },
    nodes: [{ op: 'Conv', inputs: ['x', 'w', 'b'], attrs: { strides: [2, 2], pads: [1, 0, 1, 1] }, out: 'y' }],
    h: 0.25,
  },
  {
    name: 'Conv depthwise (multiplier 2), stride 2, pads 1',
    params: { x: [1, 4, 8, 8], w: [8, 1, 3, 3], b: [8] },
    nodes: [{ op: 'Conv', inputs: ['x', 'w', 'b'], attrs: { group: 4, strides: [2, 2], pads: [1, 1, 1, 1] }, out: 'y' }],
    h: 0.25,
  },
  {
    name: 'Conv depthwise 5x5, stride [2, 1]',
    params: { x: [1, 3, 9, 8], w: [3, 1, 5, 5] },
    nodes: [{ op: 'Conv', inputs: ['x', 'w'], attrs: { group: 3, strides: [2, 1], pads: [2, 2, 2, 2] }, out: 'y' }],
    h: 0.25,
  },
  {
    name: 'Conv, stride 2 with dilation 2',
    params: { x: [1, 2, 9, 9], w: [3, 2, 3, 3] },
    nodes: [{ op: 'Conv', inputs: ['x', 'w'], attrs: { strides: [2, 2], dilations: [2, 2], pads: [2, 1, 0, 2] }, out: 'y' }],
    h: 0.25,
  },
  {
    name: 'Conv, 2 groups',
    params: { x: [1, 4, 6, 5], w: [6, 2, 3, 3], b: [6] },
    nodes: [{ op: 'Conv', inputs: ['x', 'w', 'b'], attrs: { group: 2, pads: [1, 1, 1, 1] }, out: 'y' }],
    h: 0.25,
  },
  {
    name: 'Conv 1-D pointwise (NCHW matmul path)',
    params: { x: [2, 3, 6], w: [5, 3, 1], b: [5] },
    nodes: [{ op: 'Conv', inputs: ['x', 'w', 'b'], out: 'y' }],
    h: 0.25,
  },
  {
    name: 'ConvTranspose, stride 2, pads 1, output_padding 1',
    params: { x: [1, 3, 4, 4], w: [3, 2, 3, 3], b: [2] },
    nodes: [{ op: 'ConvTranspose', inputs: ['x', 'w', 'b'], attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }, out: 'y' }],
    h: 0.25,
  },
  {
    name: 'ConvTranspose depthwise, stride 2',
    params: { x: [1, 3, 4, 4], w: [3, 1, 3, 3] },
    nodes: [{ op: 'ConvTranspose', inputs: ['x', 'w'], attrs: { group: 3, strides: [2, 2], pads: [1, 1, 1, 1] }, out: 'y' }],
    h: 0.25,
  },
  {
    name: 'ConvTranspose 2x2 stride 2 (block path)',
    params: { x: [2, 3, 3, 4], w: [3, 2, 2, 2], b: [2] },
    nodes: [{ op: 'ConvTranspose', inputs: ['x', 'w', 'b'], attrs: { strides: [2, 2] }, out: 'y' }],
    h: 0.25,
  },
  {
    name: 'Gemm transB with [N] bias, alpha 0.5',
    params: { a: [4, 5], w: [3, 5], c: [3] },
    nodes: [{ op: 'Gemm', inputs: ['a', 'w', 'c'], attrs: { transB: 1, alpha: 0.5 }, out: 'y' }],
    h: 0.25,
  },
  {
    name: 'MatMul batched (2-D loop on wasm)',
    params: { a: [2, 40, 30], b: [2, 30, 40] },
    nodes: [{ op: 'MatMul', inputs: ['a', 'b'], out: 'y' }],
    h: 0.25,
  },
  {
    name: 'LayerNormalization over the last two axes',
    params: { x: [2, 3, 8], s: [3, 8], b: [3, 8] },
    nodes: [{ op: 'LayerNormalization', inputs: ['x', 's', 'b'], attrs: { axis: 1 }, out: 'y' }],
    opset: 17,
    h: 1e-2,
  },
  {
    name: 'Conv -> BatchNormalization -> Relu -> MaxPool -> AveragePool -> GlobalAveragePool',
    params: { x: [2, 2, 10, 10], w: [3, 2, 3, 3], scale: [3], bias: [3], mean: [3], var: [3] },
    nodes: [
      { op: 'Conv', inputs: ['x', 'w'], attrs: { pads: [1, 1, 1, 1] }, out: 'c' },
      { op: 'BatchNormalization', inputs: ['c', 'scale', 'bias', 'mean', 'var'], out: 'n' },
      { op: 'Relu', inputs: ['n'], out: 'r' },
      { op: 'MaxPool', inputs: ['r'], attrs: { kernel_shape: [2, 2], strides: [2, 2] }, out: 'm' },
      { op: 'AveragePool', inputs: ['m'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, out: 'a' },
      { op: 'GlobalAveragePool', inputs: ['a'], out: 'y' },
    ],
    h: 1e-2,
  },
  {
    // Grouped-query attention's key/value repeat in every Llama export (rank 5, which tfjs's Tile cannot differentiate).
    name: 'Expand rank 5 ([batch, kv, 1, seq, dim] -> [batch, kv, 3, seq, dim]) then Mul',
    params: { x: [2, 2, 1, 3, 4], w: [2, 2, 3, 3, 4] },
    ints: { shape: [2, 2, 3, 3, 4] },
    nodes: [
      { op: 'Expand', inputs: ['x', 'shape'], out: 'e' },
      { op: 'Mul', inputs: ['e', 'w'], out: 'y' },
    ],
    h: 0.25,
  },
  {
    name: 'LSTM forward with peepholes',
    params: { x: [3, 2, 4], w: [1, 12, 4], r: [1, 12, 3], b: [1, 24], p: [1, 9] },
    nodes: [{ op: 'LSTM', inputs: ['x', 'w', 'r', 'b', '', '', '', 'p'], attrs: { hidden_size: 3 }, out: 'y' }],
    h: 1e-2,
  },
];

/** Loss sum(Y * R) for the current variable values. */
function loss(s: Session, rT: () => tf.Tensor): tf.Scalar {
  const out = s.runSync({}, { training: true });
  const y = [...out.values()][0]!;
  return tf.sum(tf.mul(y.tf, rT()));
}

for (const c of cases) {
  for (const backend of backends) {
    test(`gradients of ${c.name} on ${backend} match finite differences`, async (t) => {
      let seed = 7;
      for (const ch of c.name) seed = (seed * 31 + ch.charCodeAt(0)) >>> 0;
      const r = rng(seed);
      const model = buildModel(c, r);
      const s = await Session.create(model, { backend });
      const vars = s.makeTrainable(Object.keys(c.params));
      // Output shape from one plain run, then a fixed random R of that shape.
      const probe = s.runSync({});
      const yDims = [...probe.values()][0]!.dims;
      for (const t of probe.values()) t.dispose();
      const rVals = Float32Array.from({ length: yDims.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1);
      const rTensor = tf.keep(tf.tensor(rVals, yDims));
      const { grads, value } = tf.variableGrads(() => loss(s, () => rTensor), [...vars.values()]);
      value.dispose();
      const h = c.h ?? 1e-2;
      let worst = 0;
      for (const [name, v] of vars) {
        const g = grads[v.name];
        assert.ok(g, `no gradient for ${name}`);
        const analytic = g.dataSync() as Float32Array;
        const maxAbs = analytic.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        assert.ok(maxAbs > 0, `gradient of ${name} is all zeros`);
        const base = Float32Array.from(v.dataSync() as Float32Array);
        // The largest gradient element plus a few random ones that are not negligible.
        const picks = new Set<number>([analytic.findIndex((x) => Math.abs(x) === maxAbs)]);
        for (let tries = 0; picks.size < 4 && tries < 50; tries++) {
          const i = Math.floor(r() * analytic.length);
          if (Math.abs(analytic[i]!) > 0.05 * maxAbs) picks.add(i);
        }
        for (const i of picks) {
          const at = (delta: number) => {
            const p = Float32Array.from(base);
            p[i] = p[i]! + delta;
            v.assign(tf.tensor(p, v.shape));
            return tf.tidy(() => loss(s, () => rTensor).dataSync()[0]!);
          };
          const numeric = (at(h) - at(-h)) / (2 * h);
          v.assign(tf.tensor(base, v.shape));
          const rel = Math.abs(numeric - analytic[i]!) / Math.max(Math.abs(numeric), Math.abs(analytic[i]!));
          worst = Math.max(worst, rel);
          assert.ok(rel < TOL, `${name}[${i}]: analytic ${analytic[i]} vs numeric ${numeric} (relative error ${rel.toExponential(2)})`);
        }
      }
      for (const g of Object.values(grads)) g.dispose();
      rTensor.dispose();
      s.dispose();
      t.diagnostic(`worst relative error ${worst.toExponential(2)}`);
      assert.ok(worst < TOL);
    });
  }
}

/**
 * The fixtures' models end to end (fixtures/cnn: Conv, BatchNormalization, MaxPool, GlobalAveragePool,
 * Gemm; fixtures/lm: Gather embedding, LayerNormalization, batched MatMul attention, Softmax, Erf):
 * with every float initializer trainable, each must receive a finite, non-zero gradient. On wasm, the
 * backend missing tfjs's conv and gather gradient kernels; the cpu backend runs the same kernel
 * gradients in the finite-difference cases above (a fixture takes it ~10 s in pure JS).
 */
for (const fixture of ['cnn', 'lm']) {
  for (const backend of [testBackend]) {
    const dir = join(process.cwd(), 'fixtures', fixture);
    test(`gradients reach every parameter of fixture ${fixture} on ${backend}`, async (t) => {
      const model = await loadModel(join(dir, 'model.onnx'));
      const s = await Session.create(model, { backend });
      const feeds: Record<string, RTensor> = {};
      const set = join(dir, 'test_data_set_0');
      const inputs = s.inputs;
      for (const f of readdirSync(set).filter((n) => /^input_\d+\.pb$/.test(n)).sort()) {
        const tensor = readTensorProto(new Uint8Array(readFileSync(join(set, f))));
        feeds[tensor.name || inputs[Number(f.slice(6, -3))]!.name] = RTensor.fromIr(tensor);
      }
      const names = model.graph.initializers.filter((v) => v.initializer!.dataType === DataType.FLOAT).map((v) => v.name);
      const vars = s.makeTrainable(names);
      const probe = s.runSync(feeds);
      const y0 = [...probe.values()][0]!;
      const r = rng(11);
      const rTensor = tf.keep(tf.tensor(Float32Array.from({ length: y0.size }, () => r() * 2 - 1), y0.dims));
      for (const x of probe.values()) x.dispose();
      const { grads, value } = tf.variableGrads(() => {
        const out = s.runSync(feeds, { training: true });
        return tf.sum(tf.mul([...out.values()][0]!.tf, rTensor));
      }, [...vars.values()]);
      value.dispose();
      for (const [name, v] of vars) {
        const g = grads[v.name];
        assert.ok(g, `no gradient for ${name}`);
        const data = g.dataSync();
        assert.ok(data.every(Number.isFinite), `gradient of ${name} is not finite`);
        assert.ok(data.some((x) => x !== 0), `gradient of ${name} is all zeros`);
      }
      t.diagnostic(`${vars.size} parameters, all with finite non-zero gradients`);
      for (const g of Object.values(grads)) g.dispose();
      rTensor.dispose();
      s.dispose();
    });
  }
}
