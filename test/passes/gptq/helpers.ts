/**
 * Test helpers for gptq: the fixture LM and its data, perplexity measured in onnxruntime-node, RTN
 * baselines on GPTQ's grid, and small synthetic models.
 */
import * as ort from 'onnxruntime-node';
import { repoRoot } from '../../helpers/repo.js';
import { join } from 'node:path';
import { DataType } from '../../../src/core/dtype.js';
import { noProgress, silentLogger } from '../../../src/core/logger.js';
import { makeAttr } from '../../../src/ir/attribute.js';
import { Graph, Model, Tensor, type Value } from '../../../src/ir/index.js';
import { loadModel, serializeModel } from '../../../src/onnx/index.js';
import { readNpy, type HostArray } from '../../../src/calibration/readers/npy.js';
import { findLinearLayers, setWeightMatrix, weightMatrix } from '../../../src/calibration/sequential.js';
import { rtnQuantize, type GptqParams } from '../../../src/passes/gptq/solve.js';
import { RTensor } from '../../../src/runtime/value.js';
import { floatTensor } from '../../../src/ir/weights.js';
import { float16ToFloat32Array, float32ToBfloat16Array, float32ToFloat16Array } from '../../../src/core/float16.js';
import { batches, rows } from '../../helpers/data.js';

export { batches, rows };
export { relDiff } from '../../helpers/metrics.js';

export const root = repoRoot();
export const lmDir = join(root, 'fixtures', 'lm');
export const quiet = { logger: silentLogger, progress: noProgress };

/** The fixture LM, its calibration ids and held-out ids. */
export async function lm(): Promise<{ model: Model; calib: HostArray; test: HostArray }> {
  return {
    model: await loadModel(join(lmDir, 'model.onnx')),
    calib: readNpy(join(lmDir, 'data', 'calib_x.npy')),
    test: readNpy(join(lmDir, 'data', 'test_x.npy')),
  };
}

/**
 * Perplexity of the seq-1 next-token predictions of each row (exp of the mean negative log-likelihood),
 * measured in onnxruntime-node.
 */
export async function perplexity(model: Model, ids: HostArray, samples = ids.shape[0]!, batchSize = 64): Promise<number> {
  const session = await ort.InferenceSession.create(serializeModel(model), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const n = Math.min(samples, ids.shape[0]!);
  const seq = ids.shape[1]!;
  let nll = 0;
  let count = 0;
  for (let s = 0; s < n; s += batchSize) {
    const r = rows(ids, s, Math.min(s + batchSize, n));
    const x = r.data as BigInt64Array;
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('int64', x, r.shape) });
    const logits = out[session.outputNames[0]!]!;
    const V = logits.dims[2]!;
    const data = logits.data as Float32Array;
    for (let b = 0; b < r.shape[0]!; b++) {
      for (let t = 0; t < seq - 1; t++) {
        const off = (b * seq + t) * V;
        let max = -Infinity;
        for (let v = 0; v < V; v++) max = Math.max(max, data[off + v]!);
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(data[off + v]! - max);
        const target = Number(x[b * seq + t + 1]);
        nll += Math.log(z) + max - data[off + target]!;
        count++;
      }
    }
  }
  await session.release();
  return Math.exp(nll / count);
}

/** Round-to-nearest on GPTQ's grid applied in place to every MatMul/Gemm weight (float model kept). */
export function applyRtn(model: Model, p: GptqParams): void {
  for (const l of findLinearLayers(model).layers) setWeightMatrix(l, rtnQuantize(weightMatrix(l), l.K, l.N, p).dequantized);
}

/** Op-type counts of the main graph. */
export function opCounts(model: Model): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of model.graph.nodes) c[n.opType] = (c[n.opType] ?? 0) + 1;
  return c;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/** Correlated float inputs [n, K] (AR(1) along the features, a few loud features). */
export function correlatedInputs(n: number, K: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(n * K);
  for (let t = 0; t < n; t++) {
    let prev = 0;
    for (let k = 0; k < K; k++) x[t * K + k] = prev = 0.8 * prev + r() * (k % 5 === 0 ? 3 : 1);
  }
  return x;
}

/**
 * x[n, 32] -> MatMul W1[32, 64] -> Relu -> Gemm(B [16, 64], transB = 1, alpha 0.5, bias [16]) -> y[n, 16].
 */
export function mlpModel(seed: number): Model {
  const r = rng(seed);
  const g = new Graph('g');
  const x: Value = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['n', 32] });
  const w1 = g.addInitializer('W1', Tensor.float32([32, 64], Float32Array.from({ length: 32 * 64 }, () => r() * 0.3)));
  const b = g.addInitializer('B', Tensor.float32([16, 64], Float32Array.from({ length: 16 * 64 }, () => r() * 0.3)));
  const c = g.addInitializer('C', Tensor.float32([16], Float32Array.from({ length: 16 }, () => r())));
  const mm = g.createNode({ opType: 'MatMul', name: '/fc1/MatMul', inputs: [x, w1], outputs: ['h'] });
  const relu = g.createNode({ opType: 'Relu', name: '/act/Relu', inputs: [mm.output(0)!], outputs: ['a'] });
  const gemm = g.createNode({
    opType: 'Gemm',
    name: '/fc2/Gemm',
    inputs: [relu.output(0)!, b, c],
    outputs: ['y'],
    attributes: [makeAttr('transB', 1, 'int'), makeAttr('alpha', 0.5, 'float')],
  });
  const y = gemm.output(0)!;
  y.type = { kind: 'tensor', elemType: DataType.FLOAT, shape: ['n', 16] };
  g.outputs.push(y);
  return new Model(g, 8, [{ domain: '', version: 13 }]);
}

/**
 * mlpModel in a float type (float16 or bfloat16): its input, weights, bias and output all stored in that
 * type, as exporters write half-precision models.
 */
export function typedMlp(seed: number, dataType: number): Model {
  const m = mlpModel(seed);
  const g = m.graph;
  for (const v of [...g.inputs, ...g.outputs]) if (v.type?.kind === 'tensor') v.type = { ...v.type, elemType: dataType };
  for (const v of g.initializers) {
    const t = v.initializer!;
    v.initializer = floatTensor(dataType, t.dims, t.data as Float32Array, t.name);
  }
  return m;
}

/** Float input batches stored in `dataType` (float16 / bfloat16 bits), as a half-precision model takes them. */
export function typedBatches(x: Float32Array, n: number, K: number, name: string, batchSize: number, dataType: number): Iterable<Record<string, RTensor>> {
  const bits = dataType === DataType.FLOAT16 ? float32ToFloat16Array(x) : float32ToBfloat16Array(x);
  return {
    *[Symbol.iterator]() {
      for (let s = 0; s < n; s += batchSize) {
        const e = Math.min(n, s + batchSize);
        yield { [name]: RTensor.fromHost(dataType, [e - s, K], bits.subarray(s * K, e * K)) };
      }
    },
  };
}

/** Runs a float16 model in onnxruntime-node on one input; returns its first output as float32. */
export async function runOrtFloat16(model: Model, name: string, data: Float32Array, dims: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(serializeModel(model));
  const out = await s.run({ [name]: new ort.Tensor('float16', float32ToFloat16Array(data), dims) });
  const y = out[s.outputNames[0]!]!.data as Uint16Array;
  await s.release();
  return float16ToFloat32Array(y);
}

/** Runs a model in onnxruntime-node on one float input. */
export async function runOrt(model: Model, name: string, data: Float32Array, dims: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(serializeModel(model));
  const out = await s.run({ [name]: new ort.Tensor('float32', data, dims) });
  const y = out[s.outputNames[0]!]!.data as Float32Array;
  await s.release();
  return y;
}

/** One float batch as feeds. */
export function floatBatches(x: Float32Array, n: number, K: number, name: string, batchSize: number): Iterable<Record<string, RTensor>> {
  return {
    *[Symbol.iterator]() {
      for (let s = 0; s < n; s += batchSize) {
        const e = Math.min(n, s + batchSize);
        yield { [name]: RTensor.fromHost(DataType.FLOAT, [e - s, K], x.subarray(s * K, e * K)) };
      }
    },
  };
}
