/**
 * onnxruntime-node, the runtime models are deployed on, as the report's measuring instrument: open a
 * model file, feed it our batches, read an output as numbers. Measuring there (and not in our own
 * executor) means the numbers are the ones a user's deployment will see, and that a compressed model
 * onnxruntime cannot load is found here, not in production.
 */
import { existsSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { DataType } from '../core/dtype.js';
import { UsageError } from '../core/errors.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../core/float16.js';
import { toOrtLike } from '../runtime/feeds.js';
import type { RTensor } from '../runtime/value.js';
import type { ReportInput } from './index.js';

/** The onnxruntime-node version in use ("1.30.0"). */
export function ortVersion(): string {
  const v = ort.env.versions as { node?: string; common?: string } | undefined;
  return v?.node ?? v?.common ?? 'unknown';
}

/** A loaded onnxruntime session and what it takes. */
export interface OrtModel {
  session: ort.InferenceSession;
  /** Element type of each input, as onnxruntime names it ('float32', 'int64', ...). */
  inputTypes: Map<string, string>;
}

/**
 * Opens a model in onnxruntime-node from its file (so that external data files are found beside it).
 * One intra-op thread per core is onnxruntime's default and what a deployment gets.
 */
export async function openOrt(input: ReportInput, what: string): Promise<OrtModel> {
  const path = input.files.files[0]?.path ?? input.files.path;
  if (path === undefined || !existsSync(path)) {
    throw new UsageError(`the ${what} model is not on disk, so onnxruntime-node cannot measure it`, 'save it first (a --dry-run writes nothing to measure)');
  }
  const session = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  const inputTypes = new Map<string, string>();
  for (const m of session.inputMetadata) if (m.isTensor) inputTypes.set(m.name, String(m.type));
  return { session, inputTypes };
}

/**
 * Our batch feeds as onnxruntime tensors (the same arrays, no copy), converted between float32 and
 * float16 when the model's input takes the other one (a float16 model whose inputs became float16).
 */
export function ortFeeds(model: OrtModel, feeds: Record<string, RTensor>): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    const like = toOrtLike(t);
    const want = model.inputTypes.get(name) ?? like.type;
    let data = like.data as ort.Tensor.DataType;
    let type = like.type;
    if (want !== type && t.dataType === DataType.FLOAT && want === 'float16') {
      const src = like.data as Float32Array;
      const bits = new Uint16Array(src.length);
      for (let i = 0; i < src.length; i++) bits[i] = float32ToFloat16Bits(src[i]!);
      data = bits;
      type = 'float16';
    } else if (want !== type && t.dataType === DataType.FLOAT16 && want === 'float32') {
      const src = like.data as Uint16Array;
      const f = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) f[i] = float16BitsToFloat32(src[i]!);
      data = f;
      type = 'float32';
    }
    out[name] = new ort.Tensor(type as ort.Tensor.Type, data, like.dims.slice());
  }
  return out;
}

/** An output read as numbers. */
export interface OutputNumbers {
  data: ArrayLike<number>;
  dims: number[];
}

/** The numbers of an onnxruntime tensor: float16 bits decoded, int64 as numbers, bool as 0/1. */
export function outputNumbers(t: ort.Tensor): OutputNumbers {
  const dims = Array.from(t.dims, Number);
  const d = t.data;
  if (t.type === 'float16') {
    const bits = d as Uint16Array;
    const f = new Float32Array(bits.length);
    for (let i = 0; i < bits.length; i++) f[i] = float16BitsToFloat32(bits[i]!);
    return { data: f, dims };
  }
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return { data: Float64Array.from(d, Number), dims };
  if (Array.isArray(d)) throw new UsageError(`output of type ${t.type} cannot be compared numerically`);
  return { data: d as ArrayLike<number>, dims };
}

/** Runs a session on feeds and returns one output (by name) as numbers. */
export async function runOutput(model: OrtModel, feeds: Record<string, ort.Tensor>, output: string): Promise<OutputNumbers> {
  const res = await model.session.run(feeds, [output]);
  const t = res[output];
  if (!t) throw new UsageError(`onnxruntime returned no output '${output}'`);
  return outputNumbers(t);
}
