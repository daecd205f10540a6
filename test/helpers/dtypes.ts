/**
 * The float16 / bfloat16 fixtures (fixtures/dtypes/<name>, made by fixtures/make_dtype_fixtures.py from
 * the float32 fixtures, whose data/ they share) and running a model of any float type on float32 samples:
 * in onnxruntime-node (float16 inputs and outputs converted), or in compress's executor (bfloat16, which
 * onnxruntime's CPU provider does not run).
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DataType, dataTypeName } from '../../src/core/dtype.js';
import { bfloat16ToFloat32Array, float16ToFloat32Array, float32ToBfloat16Array, float32ToFloat16Array } from '../../src/core/float16.js';
import { readNpy, type HostArray } from '../../src/calibration/readers/npy.js';
import type { Model } from '../../src/ir/model.js';
import { serializeModel } from '../../src/onnx/index.js';
import { Session } from '../../src/runtime/session.js';
import { RTensor } from '../../src/runtime/value.js';
import { rows } from './data.js';
import { repoRoot } from './repo.js';

/** fixtures/dtypes/<name>/model.onnx. */
export function dtypeFixture(name: string): string {
  return join(repoRoot(), 'fixtures', 'dtypes', name, 'model.onnx');
}

/** fixtures/<base>/<file...> (the float32 fixtures, whose data/ the dtype fixtures use). */
export function fixturePath(...parts: string[]): string {
  return join(repoRoot(), 'fixtures', ...parts);
}

/** fixtures/<base>/data/<file>.npy, read. */
export function fixtureData(base: string, file: string): HostArray {
  return readNpy(fixturePath(base, 'data', `${file}.npy`));
}

/** Float32 samples in the model input's type (float16 / bfloat16 bit patterns, or as they are). */
function encodeInput(dataType: number, x: HostArray): { data: HostArray['data'] | Uint16Array; dims: number[] } {
  if (x.dataType !== DataType.FLOAT || dataType === DataType.FLOAT) return { data: x.data, dims: x.shape };
  if (dataType === DataType.FLOAT16) return { data: float32ToFloat16Array(x.data as Float32Array), dims: x.shape };
  if (dataType === DataType.BFLOAT16) return { data: float32ToBfloat16Array(x.data as Float32Array), dims: x.shape };
  throw new Error(`cannot feed float32 samples to a ${dataTypeName(dataType)} input`);
}

/** Outputs as float32 (float16 / bfloat16 decoded). */
function decodeOutput(type: string, data: unknown): Float32Array {
  if (type === 'float32') return Float32Array.from(data as Float32Array);
  if (type === 'float16') return float16ToFloat32Array(data as Uint16Array);
  if (type === 'bfloat16') return bfloat16ToFloat32Array(data as Uint16Array);
  throw new Error(`output of type ${type}`);
}

/** Who computes a model's outputs. */
export type Runner = 'onnxruntime' | 'executor';

/**
 * The first output of `model` on the samples `x` (its first input), batch by batch, as float32: in
 * onnxruntime-node (the model serialized, external data inlined) or in compress's executor.
 */
export async function outputsOf(model: Model, x: HostArray, runner: Runner, batchSize = 64): Promise<{ data: Float32Array; dims: number[] }> {
  const input = model.graph.inputs.find((v) => !v.initializer)!;
  const inputType = input.elemType ?? DataType.FLOAT;
  const output = model.graph.outputs[0]!.name;
  const parts: Float32Array[] = [];
  let dims: number[] = [];
  const n = x.shape[0]!;
  if (runner === 'onnxruntime') {
    const s = await ort.InferenceSession.create(serializeModel(model), { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
    try {
      for (let st = 0; st < n; st += batchSize) {
        const r = rows(x, st, Math.min(n, st + batchSize));
        const f = encodeInput(inputType, r);
        const type = dataTypeName(inputType) === 'INT64' ? 'int64' : inputType === DataType.FLOAT16 ? 'float16' : 'float32';
        const out = await s.run({ [input.name]: new ort.Tensor(type, f.data as Float32Array, f.dims) });
        const o = out[output]!;
        parts.push(decodeOutput(o.type, o.data));
        dims = [...o.dims];
      }
    } finally {
      await s.release();
    }
  } else {
    const s = await Session.create(model);
    try {
      for (let st = 0; st < n; st += batchSize) {
        const r = rows(x, st, Math.min(n, st + batchSize));
        const f = encodeInput(inputType, r);
        const out = s.runSync({ [input.name]: RTensor.fromHost(inputType, f.dims, f.data) }, { outputs: [output] });
        const o = out.get(output)!;
        parts.push(Float32Array.from(o.float32()));
        dims = o.dims.slice();
        for (const t of out.values()) t.dispose();
      }
    } finally {
      s.dispose();
    }
  }
  const data = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    data.set(p, off);
    off += p.length;
  }
  return { data, dims: [n, ...dims.slice(1)] };
}

/** The runner a model of this float type is checked in: onnxruntime, or our executor for bfloat16. */
export function runnerFor(model: Model): Runner {
  const types = [...model.graph.initializers.map((v) => v.initializer!.dataType), ...model.graph.outputs.map((v) => v.elemType)];
  return types.includes(DataType.BFLOAT16) ? 'executor' : 'onnxruntime';
}

/** The data types of the model's float initializers (and Constant values), by name: 'FLOAT16' -> count. */
export function floatTensorTypes(model: Model): Record<string, number> {
  const counts: Record<string, number> = {};
  const add = (t: number) => {
    if (t !== DataType.FLOAT && t !== DataType.FLOAT16 && t !== DataType.BFLOAT16 && t !== DataType.DOUBLE) return;
    counts[dataTypeName(t)] = (counts[dataTypeName(t)] ?? 0) + 1;
  };
  for (const g of model.graph.allGraphs()) {
    for (const v of g.initializers) add(v.initializer!.dataType);
    for (const n of g.nodes) if (n.opType === 'Constant') {
      const t = n.attrTensor('value');
      if (t) add(t.dataType);
    }
  }
  return counts;
}

/**
 * Re-iterable feed batches of the first `samples` rows of `x` for the model's first input, in its type
 * (float32 samples encoded as float16 / bfloat16 for such a model, as compress's data readers do).
 */
export function feedBatches(model: Model, x: HostArray, batchSize: number, samples = x.shape[0]!): Iterable<Record<string, RTensor>> {
  const input = model.graph.inputs.find((v) => !v.initializer)!;
  const inputType = input.elemType ?? DataType.FLOAT;
  return {
    *[Symbol.iterator]() {
      const n = Math.min(samples, x.shape[0]!);
      for (let s = 0; s < n; s += batchSize) {
        const f = encodeInput(inputType, rows(x, s, Math.min(s + batchSize, n)));
        yield { [input.name]: RTensor.fromHost(inputType, f.dims, f.data) };
      }
    },
  };
}
