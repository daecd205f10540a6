/**
 * Test harness for the quantized kernels: builds one-node IR models, runs them in our Session (wasm) and
 * in onnxruntime-node on the same feeds, and compares (integers exactly, floats within rounding).
 */
import assert from 'node:assert/strict';
import { mulberry32 } from '../../../src/core/random.js';
import * as ort from 'onnxruntime-node';
import { DataType, ortTypeName } from '../../../src/core/dtype.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../../src/core/float16.js';
import { makeAttr } from '../../../src/ir/attribute.js';
import { Graph, Model, Tensor } from '../../../src/ir/index.js';
import type { NumericArray } from '../../../src/ir/tensor.js';
import { serializeModel } from '../../../src/onnx/index.js';
import { Session } from '../../../src/runtime/session.js';
import { testBackend } from '../../helpers/backend.js';

/** The project's seeded PRNG (src/core/random.ts). */
export const rng = mulberry32;

/** n uniform integers in [lo, hi]. */
export function randInts(r: () => number, n: number, lo: number, hi: number): number[] {
  return Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo + 1)));
}

/** n uniform floats in [lo, hi). */
export function randFloats(r: () => number, n: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, () => lo + r() * (hi - lo));
}

/** One input of a test node: fed at run time, or a constant initializer when `init` is set. */
export interface InputSpec {
  name: string;
  dataType: number;
  dims: number[];
  data: NumericArray;
  init?: boolean;
}

export interface NodeSpec {
  opType: string;
  domain?: string;
  /** Inputs in order; null leaves an optional input empty. */
  inputs: (InputSpec | null)[];
  attrs?: Record<string, number | number[] | string>;
  outputs: { name: string; dataType: number }[];
  opset: number;
  msOpset?: number;
}

/**
 * A one-node model. With `castFourBit`, 4-bit outputs go through a Cast to 8 bits (for onnxruntime-node,
 * which cannot hand int4/uint4 outputs to JavaScript).
 */
export function singleNodeModel(spec: NodeSpec, castFourBit = false): Model {
  const g = new Graph('g');
  const ins = spec.inputs.map((i) => {
    if (!i) return null;
    if (i.init) return g.addInitializer(i.name, new Tensor(i.dataType, i.dims, i.data), true);
    return g.addInput(i.name, { kind: 'tensor', elemType: i.dataType, shape: i.dims });
  });
  const attributes = Object.entries(spec.attrs ?? {}).map(([k, v]) => makeAttr(k, v, typeof v === 'number' && !Number.isInteger(v) ? 'float' : undefined));
  const node = g.createNode({ opType: spec.opType, domain: spec.domain ?? '', inputs: ins, attributes, outputs: spec.outputs.map((o) => o.name) });
  spec.outputs.forEach((o, i) => {
    let v = node.output(i)!;
    v.type = { kind: 'tensor', elemType: o.dataType };
    const fourBit = o.dataType === DataType.INT4 || o.dataType === DataType.UINT4;
    if (castFourBit && fourBit) {
      const to = o.dataType === DataType.INT4 ? DataType.INT8 : DataType.UINT8;
      v.rename(`${o.name}_4bit`);
      const cast = g.createNode({ opType: 'Cast', inputs: [v], attributes: [makeAttr('to', to)], outputs: [o.name] });
      v = cast.output(0)!;
      v.type = { kind: 'tensor', elemType: to };
    }
    g.outputs.push(v);
  });
  const opsets = [{ domain: '', version: spec.opset }];
  if (spec.domain === 'com.microsoft' || spec.msOpset) opsets.push({ domain: 'com.microsoft', version: spec.msOpset ?? 1 });
  const irVersion = spec.opset >= 21 ? 10 : spec.opset >= 19 ? 9 : 8;
  return new Model(g, irVersion, opsets);
}

/** Output values as plain numbers (fp16 decoded, 4-bit unpacked) with their dims. */
export interface Result {
  type: string;
  dims: number[];
  values: number[];
}

function unpack4(data: Uint8Array, n: number, signed: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let v = (data[i >> 1]! >> ((i & 1) * 4)) & 0xf;
    if (signed && v >= 8) v -= 16;
    out.push(v);
  }
  return out;
}

function toValues(type: string, data: ArrayLike<number | bigint>, n: number, packed: boolean): number[] {
  if (type === 'float16') return Array.from(data as Uint16Array, float16BitsToFloat32);
  if ((type === 'int4' || type === 'uint4') && packed) return unpack4(data as Uint8Array, n, type === 'int4');
  return Array.from(data, Number);
}

/** Runs the model in onnxruntime-node; its error message when it refuses the model. */
export async function runOrt(model: Model, spec: NodeSpec): Promise<Record<string, Result> | string> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(serializeModel(model), { graphOptimizationLevel: 'disabled' });
  } catch (e) {
    return (e as Error).message;
  }
  const feeds: Record<string, ort.Tensor> = {};
  for (const i of spec.inputs) if (i && !i.init) feeds[i.name] = new ort.Tensor(ortTypeName(i.dataType)!, i.data as Float32Array, i.dims);
  try {
    const out = await session.run(feeds);
    const res: Record<string, Result> = {};
    for (const [k, t] of Object.entries(out)) {
      const dims = Array.from(t.dims, Number);
      res[k] = { type: t.type, dims, values: toValues(t.type, t.data as ArrayLike<number>, dims.reduce((a, b) => a * b, 1), true) };
    }
    return res;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await session.release();
  }
}

/** Runs the model in our Session on the wasm backend. */
export async function runOurs(model: Model, spec: NodeSpec): Promise<Record<string, Result>> {
  const s = await Session.create(model, { backend: testBackend });
  const feeds: Record<string, { type: string; data: NumericArray; dims: number[] }> = {};
  for (const i of spec.inputs) if (i && !i.init) feeds[i.name] = { type: ortTypeName(i.dataType)!, data: i.data, dims: i.dims };
  const out = await s.run(feeds);
  s.dispose();
  const res: Record<string, Result> = {};
  for (const [k, t] of Object.entries(out)) {
    const dims = Array.from(t.dims);
    res[k] = { type: t.type, dims, values: toValues(t.type, t.data as ArrayLike<number>, dims.reduce((a, b) => a * b, 1), false) };
  }
  return res;
}

/** Largest |a - b| and the largest |b| (the reference's scale). */
export function maxDiff(a: readonly number[], b: readonly number[]): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale };
}

const floatTypes = new Set(['float32', 'float16', 'float64']);

/**
 * Runs both and asserts agreement: same types and dims, integer outputs equal, float outputs within
 * `tol * max(1, max|ref|)` (and within one fp16 ulp of the scale for fp16 outputs). Returns the worst
 * relative float difference, or the onnxruntime error when it refuses the model and `allowOrtReject`.
 */
export async function compareWithOrt(spec: NodeSpec, options: { tol?: number; allowOrtReject?: boolean } = {}): Promise<{ rel: number; ortError?: string }> {
  const model = singleNodeModel(spec);
  const ref = await runOrt(singleNodeModel(spec, true), spec);
  if (typeof ref === 'string') {
    if (options.allowOrtReject) return { rel: 0, ortError: ref };
    throw new Error(`onnxruntime refused ${spec.opType}: ${ref}`);
  }
  const ours = await runOurs(model, spec);
  let rel = 0;
  for (const o of spec.outputs) {
    const r: Result = ref[o.name]!;
    const u: Result = ours[o.name]!;
    assert.equal(u.type, r.type === 'int8' && u.type === 'int4' ? 'int4' : r.type === 'uint8' && u.type === 'uint4' ? 'uint4' : r.type, `${o.name} type`);
    assert.deepEqual(u.dims, r.dims, `${o.name} dims`);
    if (floatTypes.has(r.type)) {
      const { diff, scale } = maxDiff(u.values, r.values);
      const base = Math.max(1e-30, scale);
      const tol = (r.type === 'float16' ? 1e-3 : (options.tol ?? 1e-5)) * base;
      assert.ok(diff <= tol, `${o.name}: max abs diff ${diff} > ${tol} (scale ${scale})`);
      rel = Math.max(rel, diff / base);
    } else {
      assert.deepEqual(u.values, r.values, `${o.name} differs from onnxruntime`);
    }
  }
  return { rel };
}

/** An input spec. */
export function input(name: string, dataType: number, dims: number[], values: ArrayLike<number>, init = false): InputSpec {
  return { name, dataType, dims, data: typed(dataType, values), init };
}

/** The canonical typed array of a data type from numbers (fp16 from float values). */
export function typed(dataType: number, values: ArrayLike<number>): NumericArray {
  switch (dataType) {
    case DataType.FLOAT:
      return Float32Array.from(values);
    case DataType.UINT8:
    case DataType.UINT4:
      return Uint8Array.from(values);
    case DataType.INT8:
    case DataType.INT4:
      return Int8Array.from(values);
    case DataType.UINT16:
      return Uint16Array.from(values);
    case DataType.INT16:
      return Int16Array.from(values);
    case DataType.INT32:
      return Int32Array.from(values);
    case DataType.FLOAT16: {
      const out = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16Bits(values[i]!);
      return out;
    }
    default:
      throw new Error(`typed(): no array for data type ${dataType}`);
  }
}


/** Geometry of a naive convolution reference (2-D; a 1-D conv is H = 1). */
export interface ConvRef {
  n: number;
  c: number;
  h: number;
  w: number;
  m: number;
  kh: number;
  kw: number;
  group: number;
  strides: [number, number];
  dilations: [number, number];
  /** top, left, bottom, right */
  pads: [number, number, number, number];
}

/**
 * Plain-JS int32 convolution of zero-point-shifted integers: x [N, C, H, W], w [M, C/group, kh, kw];
 * xzp per tensor, wzp per tensor or per output channel. Returns y [N, M, Ho, Wo] and its dims.
 */
export function naiveIntConv(x: number[], w: number[], g: ConvRef, xzp: number, wzp: number[]): { y: number[]; dims: number[] } {
  const { n, c, h, w: wd, m, kh, kw, group, strides, dilations, pads } = g;
  const ho = Math.floor((h + pads[0] + pads[2] - ((kh - 1) * dilations[0] + 1)) / strides[0]) + 1;
  const wo = Math.floor((wd + pads[1] + pads[3] - ((kw - 1) * dilations[1] + 1)) / strides[1]) + 1;
  const cg = c / group;
  const mg = m / group;
  const y: number[] = [];
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < m; o++) {
      const gi = Math.floor(o / mg);
      const zw = wzp.length > 1 ? wzp[o]! : wzp[0] ?? 0;
      for (let i = 0; i < ho; i++) {
        for (let j = 0; j < wo; j++) {
          let s = 0;
          for (let ci = 0; ci < cg; ci++) {
            for (let p = 0; p < kh; p++) {
              for (let q = 0; q < kw; q++) {
                const yy = i * strides[0] + p * dilations[0] - pads[0];
                const xx = j * strides[1] + q * dilations[1] - pads[1];
                if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                const xv = x[((b * c + gi * cg + ci) * h + yy) * wd + xx]! - xzp;
                const wv = w[((o * cg + ci) * kh + p) * kw + q]! - zw;
                s += xv * wv;
              }
            }
          }
          y.push(s);
        }
      }
    }
  }
  return { y, dims: [n, m, ho, wo] };
}
