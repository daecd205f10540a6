/**
 * Test helpers for the svd pass: small IR models with seeded weights, running a model in
 * onnxruntime-node, and the fixtures' metrics (accuracy, perplexity) measured there.
 */
import * as ort from 'onnxruntime-node';
import { accuracy, perplexity } from '../../helpers/metrics.js';
import { DataType } from '../../../src/core/dtype.js';
import { makeAttr, type Attribute } from '../../../src/ir/attribute.js';
import { Graph, Model, Tensor, type Value } from '../../../src/ir/index.js';
import { serializeModel } from '../../../src/onnx/index.js';
import type { HostArray } from '../../../src/calibration/readers/npy.js';
import { gaussian } from '../../../src/tensor/svd.js';
import { batches, concat, rows } from '../../helpers/data.js';
export { batches, rows };
export { maxAbsDiff } from '../../helpers/metrics.js';

/** n seeded normal values times `scale`. */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  const g = gaussian(seed);
  return Float32Array.from({ length: n }, () => g() * scale);
}

function floatInput(g: Graph, name: string, shape: (number | string)[]): Value {
  return g.addInput(name, { kind: 'tensor', elemType: DataType.FLOAT, shape });
}

function markOutput(g: Graph, v: Value): void {
  v.type = { kind: 'tensor', elemType: DataType.FLOAT };
  g.outputs.push(v);
}

/** x [n, K] -> MatMul(W [K, N]) -> Relu -> MatMul(W2 [N, N2]) -> y. */
export function mlpModel(K: number, N: number, N2: number, seed: number): Model {
  const g = new Graph('g');
  const x = floatInput(g, 'x', ['n', K]);
  const w = g.addInitializer('W1', Tensor.float32([K, N], randn(K * N, seed, 1 / Math.sqrt(K))));
  const w2 = g.addInitializer('W2', Tensor.float32([N, N2], randn(N * N2, seed + 1, 1 / Math.sqrt(N))));
  const a = g.createNode({ opType: 'MatMul', name: 'mm1', inputs: [x, w], outputs: ['h'] });
  const r = g.createNode({ opType: 'Relu', name: 'relu', inputs: [a.output(0)], outputs: ['hr'] });
  const b = g.createNode({ opType: 'MatMul', name: 'mm2', inputs: [r.output(0), w2], outputs: ['y'] });
  markOutput(g, b.output(0)!);
  return new Model(g, 8, [{ domain: '', version: 13 }]);
}

/** One Gemm: x is [M, K] (or [K, M] with transA), W [K, N] (or [N, K] with transB), C [N]. */
export function gemmModel(M: number, K: number, N: number, seed: number, o: { transA: boolean; transB: boolean; alpha: number; beta: number; opset?: number }): Model {
  const g = new Graph('g');
  const x = floatInput(g, 'x', o.transA ? [K, M] : [M, K]);
  const w = g.addInitializer('B', Tensor.float32(o.transB ? [N, K] : [K, N], randn(K * N, seed, 0.3)));
  const c = g.addInitializer('C', Tensor.float32([N], randn(N, seed + 1)));
  const attrs: Attribute[] = [makeAttr('transA', o.transA ? 1 : 0, 'int'), makeAttr('transB', o.transB ? 1 : 0, 'int'), makeAttr('alpha', o.alpha, 'float'), makeAttr('beta', o.beta, 'float')];
  const n = g.createNode({ opType: 'Gemm', name: 'gemm', inputs: [x, w, c], outputs: ['y'], attributes: attrs });
  markOutput(g, n.output(0)!);
  return new Model(g, 7, [{ domain: '', version: o.opset ?? 13 }]);
}

/** One Conv [M, C, kh, kw] with bias and the given attributes, input [1, C, H, W]. */
export function convModel(M: number, C: number, kh: number, kw: number, seed: number, attrs: Attribute[]): Model {
  const g = new Graph('g');
  const x = floatInput(g, 'x', ['n', C, 'h', 'w']);
  const w = g.addInitializer('Wc', Tensor.float32([M, C, kh, kw], randn(M * C * kh * kw, seed, 0.3)));
  const b = g.addInitializer('bc', Tensor.float32([M], randn(M, seed + 1)));
  const n = g.createNode({ opType: 'Conv', name: 'conv', inputs: [x, w, b], outputs: ['y'], attributes: [makeAttr('kernel_shape', [kh, kw]), ...attrs] });
  markOutput(g, n.output(0)!);
  return new Model(g, 8, [{ domain: '', version: 13 }]);
}

/** Runs a model in onnxruntime-node (one thread); returns the first output's data and dims. */
export async function runOrt(model: Model | Uint8Array, feeds: Record<string, { data: Float32Array | BigInt64Array; dims: number[] }>): Promise<{ data: Float32Array; dims: number[] }> {
  const bytes = model instanceof Uint8Array ? model : serializeModel(model);
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const f: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) f[k] = new ort.Tensor(v.data instanceof BigInt64Array ? 'int64' : 'float32', v.data, v.dims);
  const out = await s.run(f);
  const o = out[s.outputNames[0]!]!;
  const res = { data: Float32Array.from(o.data as Float32Array), dims: o.dims.slice() };
  await s.release();
  return res;
}

/** ||a - b||² / ||b||². */
export function relErr2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return num / den;
}

/** The first output over `x` in batches, concatenated. */
export async function outputsOf(model: Model, input: string, x: HostArray, batchSize = 250): Promise<{ data: Float32Array; dims: number[] }> {
  const bytes = serializeModel(model);
  const parts: Float32Array[] = [];
  let dims: number[] = [];
  for (let i = 0; i < x.shape[0]!; i += batchSize) {
    const r = rows(x, i, i + batchSize);
    const o = await runOrt(bytes, { [input]: { data: r.data as Float32Array | BigInt64Array, dims: r.shape } });
    parts.push(o.data);
    dims = o.dims;
  }
  dims[0] = x.shape[0]!;
  return { data: concat(parts), dims };
}



/** Share of rows (last axis = classes) whose argmax agrees. */
export function agreement(a: Float32Array, b: Float32Array, classes: number): number {
  const n = a.length / classes;
  let ok = 0;
  for (let i = 0; i < n; i++) {
    let ba = 0;
    let bb = 0;
    for (let c = 1; c < classes; c++) {
      if (a[i * classes + c]! > a[i * classes + ba]!) ba = c;
      if (b[i * classes + c]! > b[i * classes + bb]!) bb = c;
    }
    if (ba === bb) ok++;
  }
  return ok / n;
}

export { accuracy, perplexity };
