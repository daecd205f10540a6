/**
 * Bias correction after Wanda / SparseGPT: on a layer whose inputs share a large mean and are correlated
 * (as GELU / ReLU outputs are), the bias takes back exactly (W - Ŵ) E[x], the output error drops and has
 * zero mean, and the output runs in onnxruntime-node. Every kind of bias site: an existing bias Add (with
 * the bias first and shared with another Add), a Gemm C (alpha, beta, a one-value C), a Gemm without C, and
 * a MatMul without any bias (a new Add that keeps the output name).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../../src/core/dtype.js';
import { UsageError } from '../../../src/core/errors.js';
import { mulberry32 } from '../../../src/core/random.js';
import { makeAttr } from '../../../src/ir/attribute.js';
import { Graph, Model, Tensor } from '../../../src/ir/index.js';
import { serializeModel } from '../../../src/onnx/index.js';
import { parsePruneOptions } from '../../../src/passes/prune/options.js';
import { prune } from '../../../src/passes/prune/index.js';
import { outputShift } from '../../../src/passes/prune/solve.js';
import { batches, quiet } from './helpers.js';

const K = 32;
const N = 12;
const tokens = 384;

function randn(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
}

/** GELU-like inputs: a shared positive mean per column (0.2 to 3), three common factors, small noise. */
function inputs(seed: number): Float32Array {
  const z = randn(tokens * 3, seed);
  const mix = randn(3 * K, seed + 1);
  const noise = randn(tokens * K, seed + 2);
  const x = new Float32Array(tokens * K);
  for (let t = 0; t < tokens; t++) {
    for (let j = 0; j < K; j++) {
      let v = 0.2 + (2.8 * ((j * 7) % K)) / K + 0.3 * noise[t * K + j]!;
      for (let f = 0; f < 3; f++) v += 0.5 * z[t * 3 + f]! * mix[f * K + j]!;
      x[t * K + j] = Math.max(0, v);
    }
  }
  return x;
}

type Kind = 'matmul+add' | 'matmul' | 'gemm' | 'gemm-no-c' | 'gemm-scalar-c';

/** x [n, K] -> one linear layer -> y [n, N], in the form `kind`. */
function layerModel(kind: Kind): Model {
  const g = new Graph('g');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['n', K] });
  const w = randn(K * N, 3);
  if (kind === 'matmul' || kind === 'matmul+add') {
    const W = g.addInitializer('W', Tensor.float32([K, N], w));
    const mm = g.createNode({ opType: 'MatMul', name: 'layer', inputs: [x, W], outputs: [kind === 'matmul' ? 'y' : 'mm_out'] });
    if (kind === 'matmul+add') {
      // The bias first (as torch exports nn.Linear), and read by a second Add too (it must be copied).
      const b = g.addInitializer('b', Tensor.float32([N], randn(N, 4)));
      const y = g.createNode({ opType: 'Add', name: 'bias', inputs: [b, mm.output(0)!], outputs: ['y'] }).output(0)!;
      const y2 = g.createNode({ opType: 'Add', name: 'bias_again', inputs: [y, b], outputs: ['y2'] }).output(0)!;
      g.outputs.push(y, y2);
    } else g.outputs.push(mm.output(0)!);
  } else {
    // Gemm with transB = 1: B is [N, K]; alpha and beta not 1.
    const B = new Float32Array(N * K);
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) B[n * K + k] = w[k * N + n]!;
    const ins = [x, g.addInitializer('B', Tensor.float32([N, K], B))];
    if (kind === 'gemm') ins.push(g.addInitializer('C', Tensor.float32([1, N], randn(N, 5))));
    if (kind === 'gemm-scalar-c') ins.push(g.addInitializer('C', Tensor.float32([1], [0.25])));
    const y = g.createNode({
      opType: 'Gemm',
      name: 'layer',
      inputs: ins,
      outputs: ['y'],
      attributes: [makeAttr('transB', 1), makeAttr('alpha', 0.5, 'float'), makeAttr('beta', 2, 'float')],
    }).output(0)!;
    g.outputs.push(y);
  }
  return new Model(g, 8, [{ domain: '', version: 13 }]);
}

async function run(model: Model, x: Float32Array): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(serializeModel(model));
  const out = await s.run({ x: new ort.Tensor('float32', x, [tokens, K]) });
  const r = Float32Array.from(out.y!.data as Float32Array);
  await s.release();
  return r;
}

/** Mean square error and the largest |mean error| of an output against the reference, per output. */
function errors(a: Float32Array, ref: Float32Array): { mse: number; maxMean: number } {
  let mse = 0;
  const mean = new Float64Array(N);
  for (let t = 0; t < tokens; t++) {
    for (let n = 0; n < N; n++) {
      const d = a[t * N + n]! - ref[t * N + n]!;
      mse += d * d;
      mean[n]! += d / tokens;
    }
  }
  return { mse: mse / (tokens * N), maxMean: Math.max(...mean.map(Math.abs)) };
}

/** The layer's weight as [K, N] (MatMul as stored, Gemm B transposed back). */
function weightKN(model: Model): Float32Array {
  const node = model.graph.nodes.find((n) => n.name === 'layer')!;
  const t = node.input(1)!.initializer!.data as Float32Array;
  if (node.opType === 'MatMul') return Float32Array.from(t);
  const out = new Float32Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) out[k * N + n] = t[n * K + k]!;
  return out;
}

/** The bias values the layer's outputs receive (what the graph adds to each output), as N numbers. */
function addedBias(model: Model): Float64Array {
  const node = model.graph.nodes.find((n) => n.name === 'layer')!;
  const out = new Float64Array(N);
  if (node.opType === 'Gemm') {
    const beta = node.attrFloat('beta', 1)!;
    const c = node.input(2)?.initializer;
    if (c) for (let n = 0; n < N; n++) out[n] = beta * (c.data as Float32Array)[c.size === 1 ? 0 : n]!;
    return out;
  }
  const y = node.output(0)!;
  const add = y.uses[0]?.node;
  if (add?.opType === 'Add') {
    const b = add.inputs.find((v) => v !== y)!.initializer!;
    for (let n = 0; n < N; n++) out[n] = (b.data as Float32Array)[n]!;
  }
  return out;
}

for (const method of ['wanda', 'sparsegpt'] as const) {
  for (const kind of ['matmul+add', 'matmul', 'gemm', 'gemm-no-c', 'gemm-scalar-c'] as const) {
    test(`${method}, ${kind}: the bias takes back (W - Ŵ) E[x] exactly; the output error drops and has zero mean`, async () => {
      const x = inputs(11);
      const data = batches({ dataType: DataType.FLOAT, shape: [tokens, K], data: x }, 'x', 128);
      const original = layerModel(kind);
      const ref = await run(original, x);
      const without = layerModel(kind);
      await prune(without, { method, sparsity: 0.5, keepSensitive: false, biasCorrection: false }, { ...quiet, data });
      const withBc = layerModel(kind);
      const r = await prune(withBc, { method, sparsity: 0.5, keepSensitive: false, biasCorrection: true }, { ...quiet, data });
      assert.equal(r.layers.length, 1);
      assert.ok(r.layers[0]!.biasCorrection, 'the layer row says where the correction went');
      assert.equal((r.report.pruning as Record<string, unknown>).biasCorrection, true);

      // Same mask either way (the correction changes biases only), and exactly half of the weights are zero.
      const w0 = weightKN(original);
      const w1 = weightKN(withBc);
      assert.deepEqual(w1, weightKN(without));
      assert.equal(w1.filter((v) => v === 0).length, (K * N) / 2);

      // The added bias is alpha * (W - Ŵ) mean(x), mean over the calibration tokens in float64.
      const mu = new Float64Array(K);
      for (let t = 0; t < tokens; t++) for (let k = 0; k < K; k++) mu[k]! += x[t * K + k]! / tokens;
      const alpha = kind.startsWith('gemm') ? 0.5 : 1;
      const rowsW = new Float32Array(N * K);
      const rowsP = new Float32Array(N * K);
      for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) {
        rowsW[n * K + k] = w0[k * N + n]!;
        rowsP[n * K + k] = w1[k * N + n]!;
      }
      const shift = outputShift({ rows: N, cols: K, data: rowsW }, rowsP, mu);
      const before = addedBias(original);
      const after = addedBias(withBc);
      for (let n = 0; n < N; n++) {
        const want = alpha * shift[n]!;
        assert.ok(Math.abs(after[n]! - before[n]! - want) <= 1e-5 + 1e-4 * Math.abs(want), `output ${n}: bias moved by ${after[n]! - before[n]!}, want ${want}`);
      }
      assert.deepEqual(addedBias(without), before, 'without correction the bias stays');

      // In onnxruntime: the corrected model's error is smaller and centred.
      const eWithout = errors(await run(without, x), ref);
      const eWith = errors(await run(withBc, x), ref);
      assert.ok(eWith.mse < eWithout.mse, `${method} ${kind}: MSE ${eWith.mse.toExponential(3)} with correction < ${eWithout.mse.toExponential(3)} without`);
      assert.ok(eWith.maxMean < 1e-3 && eWithout.maxMean > 10 * eWith.maxMean, `mean output error ${eWith.maxMean.toExponential(2)} with, ${eWithout.maxMean.toExponential(2)} without`);

      // The graph: a new Add only where no bias existed, and the output keeps its name.
      const adds = (m: Model) => m.graph.nodes.filter((n) => n.opType === 'Add').length;
      assert.equal(adds(withBc) - adds(original), kind === 'matmul' ? 1 : 0);
      assert.deepEqual(withBc.graph.outputs.map((v) => v.name), original.graph.outputs.map((v) => v.name));
      if (kind === 'matmul+add') assert.deepEqual([...(withBc.graph.value('b')!.initializer!.data as Float32Array)], [...(original.graph.value('b')!.initializer!.data as Float32Array)], 'the shared bias is copied, not changed for its other reader');

      // Deterministic: the same inputs and options give the same bytes.
      const again = layerModel(kind);
      await prune(again, { method, sparsity: 0.5, keepSensitive: false, biasCorrection: true }, { ...quiet, data });
      assert.deepEqual(serializeModel(again), serializeModel(withBc));
    });
  }
}

test('outputShift is (W - Ŵ) μ per output row', () => {
  const w = { rows: 2, cols: 3, data: Float32Array.from([1, 2, 3, -1, 0.5, 4]) };
  const pruned = Float32Array.from([1, 0, 3, 0, 0.5, 0]);
  assert.deepEqual([...outputShift(w, pruned, [10, 20, 30])], [40, -10 + 120]);
});

test('bias correction: on by default for Wanda, opt-in for SparseGPT, refused without data-aware statistics', () => {
  assert.equal(parsePruneOptions({ method: 'wanda' }).biasCorrection, true);
  assert.equal(parsePruneOptions({ method: 'wanda', biasCorrection: false }).biasCorrection, false);
  assert.equal(parsePruneOptions({ method: 'sparsegpt' }).biasCorrection, false);
  assert.equal(parsePruneOptions({ method: 'sparsegpt', biasCorrection: true }).biasCorrection, true);
  assert.equal(parsePruneOptions({}).biasCorrection, false, 'magnitude never corrects');
  assert.throws(() => parsePruneOptions({ method: 'magnitude', biasCorrection: true }), (e: unknown) => e instanceof UsageError && /wanda or sparsegpt/.test(e.message));
  assert.throws(() => parsePruneOptions({ pattern: 'channel', biasCorrection: true }), UsageError);
});

test('sparsity 0: nothing moves, so no Add is left behind', async () => {
  const x = inputs(12);
  const data = batches({ dataType: DataType.FLOAT, shape: [tokens, K], data: x }, 'x', 128);
  const m = layerModel('matmul');
  const nodes = m.graph.nodes.length;
  await prune(m, { method: 'wanda', sparsity: 0, keepSensitive: false }, { ...quiet, data });
  assert.equal(m.graph.nodes.length, nodes);
  assert.equal(m.graph.initializers.length, 1);
});
