/**
 * Test helpers: small IR models with seeded random weights, and running a model in onnxruntime-node.
 */
import * as ort from 'onnxruntime-node';
import { mulberry32 } from '../../../src/core/random.js';
import { DataType } from '../../../src/core/dtype.js';
import { makeAttr } from '../../../src/ir/attribute.js';
import { Graph, Model, Tensor, type Value } from '../../../src/ir/index.js';
import { serializeModel } from '../../../src/onnx/index.js';
export { maxAbsDiff, relDiff } from '../../helpers/metrics.js';

/** The project's seeded PRNG (src/core/random.ts). */
export const rng = mulberry32;

/** n standard-normal-ish values (sum of uniforms), times `scale`. */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() + r() + r() + r() - 2) * 1.7 * scale;
  return out;
}

export function floatInput(g: Graph, name: string, shape: (number | string)[]): Value {
  return g.addInput(name, { kind: 'tensor', elemType: DataType.FLOAT, shape });
}

export function markOutput(g: Graph, v: Value, shape?: (number | string)[]): void {
  v.type = { kind: 'tensor', elemType: DataType.FLOAT, shape };
  g.outputs.push(v);
}

/** x[?, K] -> MatMul(W[K, N]) -> y. */
export function matmulModel(K: number, N: number, seed: number, opset = 17): Model {
  const g = new Graph('g');
  const x = floatInput(g, 'x', ['n', K]);
  const w = g.addInitializer('W', Tensor.float32([K, N], randn(K * N, seed, 0.2)));
  const mm = g.createNode({ opType: 'MatMul', name: 'mm', inputs: [x, w], outputs: ['y'] });
  markOutput(g, mm.output(0)!, ['n', N]);
  return new Model(g, 8, [{ domain: '', version: opset }]);
}

/** Gemm with transB, alpha, beta and a bias C of N values (or a [M, N] C when `fullC`). */
export function gemmModel(M: number, K: number, N: number, seed: number, opts: { transB: boolean; alpha: number; beta: number; fullC?: boolean }): Model {
  const g = new Graph('g');
  const x = floatInput(g, 'x', [M, K]);
  const wShape = opts.transB ? [N, K] : [K, N];
  const w = g.addInitializer('B', Tensor.float32(wShape, randn(K * N, seed, 0.2)));
  const c = g.addInitializer('C', opts.fullC ? Tensor.float32([M, N], randn(M * N, seed + 1)) : Tensor.float32([N], randn(N, seed + 1)));
  const gemm = g.createNode({
    opType: 'Gemm',
    name: 'gemm',
    inputs: [x, w, c],
    outputs: ['y'],
    attributes: [makeAttr('transB', opts.transB ? 1 : 0, 'int'), makeAttr('alpha', opts.alpha, 'float'), makeAttr('beta', opts.beta, 'float')],
  });
  markOutput(g, gemm.output(0)!, [M, N]);
  return new Model(g, 8, [{ domain: '', version: 13 }]);
}

/**
 * Runs a model in onnxruntime-node on float32 feeds; returns each output's data. `exact` turns graph
 * optimizations off: onnxruntime otherwise fuses DequantizeLinear -> MatMul into MatMulNBits with int8
 * activations (accuracy level 4), which is fast but no longer the float maths of the graph.
 */
export async function runOrt(
  model: Model | Uint8Array,
  feeds: Record<string, { data: Float32Array | BigInt64Array; dims: number[] }>,
  exact = false,
): Promise<Record<string, Float32Array>> {
  const bytes = model instanceof Uint8Array ? model : serializeModel(model);
  const session = await ort.InferenceSession.create(bytes, exact ? { graphOptimizationLevel: 'disabled' } : {});
  const f: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) f[k] = new ort.Tensor(v.data instanceof BigInt64Array ? 'int64' : 'float32', v.data, v.dims);
  const out = await session.run(f);
  const res: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(out)) res[k] = v.data as Float32Array;
  await session.release();
  return res;
}

/** Op-type counts of a model's main graph. */
export function opCounts(model: Model): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of model.graph.nodes) c[n.opType] = (c[n.opType] ?? 0) + 1;
  return c;
}

/** A small CNN: Conv-Relu-MaxPool-Conv-Clip(0,6)-Concat-GlobalAveragePool-Flatten-Gemm, input [n,2,8,8]. */
export function cnnModel(seed: number, opset = 13): Model {
  const g = new Graph('cnn');
  const x = floatInput(g, 'x', ['n', 2, 8, 8]);
  const w1 = g.addInitializer('conv1.weight', Tensor.float32([4, 2, 3, 3], randn(72, seed, 0.4)));
  const b1 = g.addInitializer('conv1.bias', Tensor.float32([4], randn(4, seed + 1, 0.1)));
  const c1 = g.createNode({ opType: 'Conv', name: 'conv1', inputs: [x, w1, b1], outputs: ['c1'], attributes: [makeAttr('pads', [1, 1, 1, 1]), makeAttr('kernel_shape', [3, 3])] });
  const r1 = g.createNode({ opType: 'Relu', name: 'relu1', inputs: [c1.output(0)], outputs: ['r1'] });
  const p1 = g.createNode({ opType: 'MaxPool', name: 'pool1', inputs: [r1.output(0)], outputs: ['p1'], attributes: [makeAttr('kernel_shape', [2, 2]), makeAttr('strides', [2, 2])] });
  const w2 = g.addInitializer('conv2.weight', Tensor.float32([6, 4, 3, 3], randn(216, seed + 2, 0.3)));
  const b2 = g.addInitializer('conv2.bias', Tensor.float32([6], randn(6, seed + 3, 0.1)));
  const c2 = g.createNode({ opType: 'Conv', name: 'conv2', inputs: [p1.output(0), w2, b2], outputs: ['c2'], attributes: [makeAttr('pads', [1, 1, 1, 1]), makeAttr('kernel_shape', [3, 3])] });
  const lo = g.addInitializer('clip_lo', Tensor.float32([], [0]));
  const hi = g.addInitializer('clip_hi', Tensor.float32([], [6]));
  const r2 = g.createNode({ opType: 'Clip', name: 'clip2', inputs: [c2.output(0), lo, hi], outputs: ['r2'] });
  const cat = g.createNode({ opType: 'Concat', name: 'cat', inputs: [r2.output(0), p1.output(0)], outputs: ['cat'], attributes: [makeAttr('axis', 1)] });
  const gap = g.createNode({ opType: 'GlobalAveragePool', name: 'gap', inputs: [cat.output(0)], outputs: ['gap'] });
  const fl = g.createNode({ opType: 'Flatten', name: 'flat', inputs: [gap.output(0)], outputs: ['flat'] });
  const wf = g.addInitializer('fc.weight', Tensor.float32([5, 10], randn(50, seed + 4, 0.5)));
  const bf = g.addInitializer('fc.bias', Tensor.float32([5], randn(5, seed + 5, 0.1)));
  const fc = g.createNode({ opType: 'Gemm', name: 'fc', inputs: [fl.output(0), wf, bf], outputs: ['logits'], attributes: [makeAttr('transB', 1)] });
  markOutput(g, fc.output(0)!, ['n', 5]);
  return new Model(g, 7, [{ domain: '', version: opset }]);
}

/** A small MLP: Gemm-Relu-MatMul-Add-Relu-Gemm over 48 features (K = 48 is not a multiple of 32). */
export function mlpModel(seed: number, opset = 13): Model {
  const g = new Graph('mlp');
  const x = floatInput(g, 'x', ['n', 48]);
  const w1 = g.addInitializer('fc1.weight', Tensor.float32([64, 48], randn(64 * 48, seed, 0.15)));
  const b1 = g.addInitializer('fc1.bias', Tensor.float32([64], randn(64, seed + 1, 0.05)));
  const h1 = g.createNode({ opType: 'Gemm', name: 'fc1', inputs: [x, w1, b1], outputs: ['h1'], attributes: [makeAttr('transB', 1)] });
  const r1 = g.createNode({ opType: 'Relu', name: 'relu1', inputs: [h1.output(0)], outputs: ['r1'] });
  const w2 = g.addInitializer('fc2.weight', Tensor.float32([64, 40], randn(64 * 40, seed + 2, 0.15)));
  const mm = g.createNode({ opType: 'MatMul', name: 'fc2', inputs: [r1.output(0), w2], outputs: ['h2'] });
  const b2 = g.addInitializer('fc2.bias', Tensor.float32([40], randn(40, seed + 3, 0.05)));
  const add = g.createNode({ opType: 'Add', name: 'fc2_add', inputs: [mm.output(0), b2], outputs: ['h2b'] });
  const r2 = g.createNode({ opType: 'Relu', name: 'relu2', inputs: [add.output(0)], outputs: ['r2'] });
  const w3 = g.addInitializer('head.weight', Tensor.float32([40, 10], randn(400, seed + 4, 0.2)));
  const b3 = g.addInitializer('head.bias', Tensor.float32([10], randn(10, seed + 5, 0.05)));
  const h3 = g.createNode({ opType: 'Gemm', name: 'head', inputs: [r2.output(0), w3, b3], outputs: ['logits'] });
  markOutput(g, h3.output(0)!, ['n', 10]);
  return new Model(g, 7, [{ domain: '', version: opset }]);
}
