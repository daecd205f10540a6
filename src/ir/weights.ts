/**
 * The one way to reach a model's weights. Finds every weight site (a node that multiplies or looks up a
 * constant float tensor: MatMul, Gemm, Conv, Gather), says how it is laid out (which axis holds the
 * output channels, which one the op sums over), where it lives (an initializer or a Constant node's
 * value; inline or in an external data file, read only when needed), what type it is stored in (float32,
 * float16, bfloat16) and what role it plays (output head, embedding table, first convolution: NNCF and
 * TensorRT-ModelOpt keep those at higher precision), and hands out its values as float32 on demand.
 *
 * Passes compute in float32 whatever the model stores: `weightValues` decodes, `setWeightValues` encodes
 * back into the weight's own type, and `releaseWeight` gives the memory of a weight read from an external
 * file back once a pass is done with it, so that a model far larger than memory is walked one weight at a
 * time.
 */
import { DataType, dataTypeName } from '../core/dtype.js';
import {
  bfloat16ToFloat32Array,
  float16ToFloat32Array,
  float32ToBfloat16Array,
  float32ToFloat16Array,
} from '../core/float16.js';
import type { Graph } from './graph.js';
import type { Model } from './model.js';
import type { Node } from './node.js';
import { Tensor as TensorClass, type Tensor } from './tensor.js';
import type { Value } from './value.js';

/** Op types whose constant weights we know how to find. */
export const weightOpTypes = ['MatMul', 'Gemm', 'Conv', 'Gather'] as const;
export type WeightOpType = (typeof weightOpTypes)[number];

/** What a weight does in the network, for precision defaults. */
export type WeightRole = 'body' | 'head' | 'embedding' | 'first-conv';

/** The float types weights are compressed from (computed in float32, written back in their own type). */
export const weightFloatTypes: readonly number[] = [DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16];

/** True for float32, float16 and bfloat16. */
export function isWeightFloatType(dataType: number): boolean {
  return weightFloatTypes.includes(dataType);
}

/** Short names of the weight float types, as the reports and messages write them. */
export function floatTypeName(dataType: number): string {
  if (dataType === DataType.FLOAT) return 'float32';
  if (dataType === DataType.FLOAT16) return 'float16';
  if (dataType === DataType.BFLOAT16) return 'bfloat16';
  return dataTypeName(dataType).toLowerCase();
}

/** One constant weight read by one node. */
export interface WeightSite {
  node: Node;
  op: WeightOpType;
  /** Index of the node input that reads the weight. */
  inputIndex: number;
  /** The value holding the weight (it may be read by other nodes too: see `shared`). */
  value: Value;
  tensor: Tensor;
  /** The type the weight is stored in: float32, float16 or bfloat16. */
  dataType: number;
  /** An initializer, or the `value` of a Constant node (exporters such as paddle2onnx write those). */
  storage: 'initializer' | 'constant';
  /** The data lives in an external data file and is read from there when needed. */
  external: boolean;
  /** The node is in the main graph (not in an If / Loop / Scan body). */
  main: boolean;
  /** Axis of output channels (MatMul: N = 1; Gemm: 0 with transB else 1; Conv: 0; Gather: 0, the rows). */
  channelAxis: number;
  /** Axis that the op sums over (K), along which groups run; for Gather the embedding dimension 1. */
  reductionAxis: number;
  params: number;
  role: WeightRole;
  /** True when another node reads the same constant. */
  shared: boolean;
}

/** A node that reads a constant weight which discovery leaves alone, and why. */
export interface SkippedWeight {
  node: Node;
  reason: string;
  /** Elements of the weight it left alone (0 when unknown). */
  params: number;
  /** The weight's stored type, when it is a tensor. */
  dataType?: number;
}

/** The layer types whose output ends the search for a head (anything that mixes features with weights). */
const layerOps = new Set(['MatMul', 'Gemm', 'Conv', 'ConvTranspose', 'Gather', 'MatMulNBits', 'MatMulInteger', 'ConvInteger', 'QLinearMatMul', 'QLinearConv', 'Attention']);

/**
 * The constant tensor a value holds: its initializer, or the `value` of the Constant node producing it
 * (exporters such as paddle2onnx write every weight as a Constant node).
 */
export function constantOf(v: Value | null | undefined): Tensor | undefined {
  if (!v) return undefined;
  if (v.initializer) return v.initializer;
  const p = v.producer;
  if (p && p.opType === 'Constant' && p.domain === '' && p.outputs.length === 1) return p.attrTensor('value');
  return undefined;
}

/**
 * Turns a Constant node's output into an initializer of the same name (same tensor, same meaning), so
 * that writers can replace it like any initializer. No-op for initializers.
 */
export function promoteConstant(v: Value): void {
  if (v.initializer) return;
  const t = constantOf(v);
  const p = v.producer;
  if (!t || !p) return;
  p.graph.removeNode(p, { safe: false, keepOutputs: true });
  t.name = v.name;
  v.initializer = t;
  v.graph.initializers.push(v);
}

/** Why a constant of this type is not a weight we compress (undefined: it is one). */
function typeReason(t: Tensor, what: string): string | undefined {
  if (isWeightFloatType(t.dataType)) return undefined;
  const name = floatTypeName(t.dataType);
  if (t.dataType === DataType.DOUBLE) return `its ${what} is float64, which compress does not compress (convert the model to float32 or float16)`;
  return `its ${what} is ${name}, not a float type (already quantized?)`;
}

type Located = Pick<WeightSite, 'node' | 'op' | 'inputIndex' | 'value' | 'tensor' | 'channelAxis' | 'reductionAxis'>;

/** The weight site of one node, if it has one (or a reason to skip it). */
function siteOf(node: Node): Located | SkippedWeight | undefined {
  const op = node.opType;
  if (node.domain !== '') return undefined;
  const skip = (t: Tensor, reason: string): SkippedWeight => ({ node, reason, params: t.size, dataType: t.dataType });
  if (op === 'MatMul' || op === 'Gemm') {
    const w = node.input(1);
    const t = constantOf(w);
    if (!w || !t) return undefined;
    const bad = typeReason(t, `weight '${w.name}'`);
    if (bad) return skip(t, bad);
    if (t.rank !== 2) return skip(t, `its weight '${w.name}' has rank ${t.rank}, not 2`);
    const transB = op === 'Gemm' && node.attrInt('transB', 0) !== 0;
    return { node, op, inputIndex: 1, value: w, tensor: t, channelAxis: transB ? 0 : 1, reductionAxis: transB ? 1 : 0 };
  }
  if (op === 'Conv') {
    const w = node.input(1);
    const t = constantOf(w);
    if (!w || !t) return undefined;
    const bad = typeReason(t, `weight '${w.name}'`);
    if (bad) return skip(t, bad);
    if (t.rank < 3) return skip(t, `its weight '${w.name}' has rank ${t.rank}`);
    return { node, op, inputIndex: 1, value: w, tensor: t, channelAxis: 0, reductionAxis: 1 };
  }
  if (op === 'Gather') {
    const w = node.input(0);
    const t = constantOf(w);
    if (!w || !t || !isWeightFloatType(t.dataType)) return undefined;
    if (t.rank !== 2) return skip(t, `its table '${w.name}' has rank ${t.rank}, not 2`);
    if (node.attrInt('axis', 0) !== 0) return skip(t, 'it gathers along axis 1, not rows of a table');
    return { node, op, inputIndex: 0, value: w, tensor: t, channelAxis: 0, reductionAxis: 1 };
  }
  return undefined;
}

/**
 * True for a decoder's key/value cache output (present.0.key, present_key_values.*, *cache*): the keys
 * and values a generation step hands to the next, not a prediction. The projections that feed them are
 * body layers.
 */
export function isCacheOutput(v: Value): boolean {
  return /^present|past_key|key_values|cache/i.test(v.name);
}

/**
 * True when a path of non-layer nodes leads from `node`'s outputs to a graph output other than a key/value
 * cache: the node is (one of) the network's output heads.
 */
function reachesOutput(node: Node): boolean {
  const seen = new Set<Node>();
  const stack: Value[] = node.outputs.filter((v): v is Value => v !== null);
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (v.isGraphOutput && !isCacheOutput(v)) return true;
    for (const c of v.consumers()) {
      if (seen.has(c) || layerOps.has(c.opType)) continue;
      seen.add(c);
      for (const o of c.outputs) if (o) stack.push(o);
    }
  }
  return false;
}

/** Whether a tensor's data is (still) in an external data file. */
function isExternal(t: Tensor): boolean {
  return t.source !== undefined;
}

/**
 * Finds the constant float weights (float32, float16, bfloat16) of MatMul, Gemm, Conv and Gather nodes in
 * the model (subgraphs included), in graph order, with their layout, storage and roles. Nodes that read a
 * constant weight we cannot handle are returned in `skipped` with the reason, so the caller can say so.
 * Nothing is read from external data files: only shapes and types are looked at.
 */
export function findWeights(model: Model): { sites: WeightSite[]; skipped: SkippedWeight[] } {
  const sites: WeightSite[] = [];
  const skipped: SkippedWeight[] = [];
  let firstConvSeen = false;
  const visit = (g: Graph) => {
    for (const node of g.nodes) {
      const s = siteOf(node);
      if (s && 'reason' in s) skipped.push(s);
      else if (s) {
        const main = g === model.graph;
        let role: WeightRole = 'body';
        if (s.op === 'Gather') role = 'embedding';
        else if (s.op === 'Conv' && !firstConvSeen && main) {
          role = 'first-conv';
          firstConvSeen = true;
        } else if (main && reachesOutput(node)) role = 'head';
        sites.push({
          ...s,
          dataType: s.tensor.dataType,
          storage: s.value.initializer ? 'initializer' : 'constant',
          external: isExternal(s.tensor),
          main,
          params: s.tensor.size,
          role,
          shared: false,
        });
      }
      for (const sg of node.subgraphs()) visit(sg);
    }
  };
  visit(model.graph);
  const readers = new Map<Value, number>();
  for (const s of sites) readers.set(s.value, (readers.get(s.value) ?? 0) + 1);
  for (const s of sites) s.shared = s.value.uses.length > 1 || (readers.get(s.value) ?? 0) > 1;
  return { sites, skipped };
}

/**
 * A float32 view of a weight for reading only (never change it): float32 data as it is (no copy),
 * float16 / bfloat16 decoded. Data still in its external file is read now.
 */
export function weightView(t: Tensor): Float32Array {
  const d = t.view();
  if (t.dataType === DataType.FLOAT) return d as Float32Array;
  if (t.dataType === DataType.FLOAT16) return float16ToFloat32Array(d as Uint16Array);
  if (t.dataType === DataType.BFLOAT16) return bfloat16ToFloat32Array(d as Uint16Array);
  if (t.dataType === DataType.DOUBLE) return Float32Array.from(d as Float64Array);
  throw new TypeError(`tensor '${t.name}' is ${dataTypeName(t.dataType)}, not a float weight`);
}

/** The weight's values as a new float32 array the caller owns (decoded from float16 / bfloat16). */
export function weightValues(t: Tensor): Float32Array {
  const v = weightView(t);
  return t.dataType === DataType.FLOAT ? v.slice() : v;
}

/** Float32 values encoded in a float weight type (rounded to nearest even for float16 / bfloat16). */
export function encodeFloat(dataType: number, values: Float32Array): Float32Array | Uint16Array | Float64Array {
  if (dataType === DataType.FLOAT) return values;
  if (dataType === DataType.FLOAT16) return float32ToFloat16Array(values);
  if (dataType === DataType.BFLOAT16) return float32ToBfloat16Array(values);
  if (dataType === DataType.DOUBLE) return Float64Array.from(values);
  throw new TypeError(`cannot store float values as ${dataTypeName(dataType)}`);
}

/**
 * Replaces a weight's values (same shape) with float32 values, stored in the weight's own type: a float16
 * model's pruned or factorized weights stay float16. Takes ownership of `values` for float32 weights.
 */
export function setWeightValues(t: Tensor, values: Float32Array): void {
  if (values.length !== t.size) throw new RangeError(`weight '${t.name}' [${t.dims.join(',')}] needs ${t.size} values, got ${values.length}`);
  t.data = encodeFloat(t.dataType, values);
}

/**
 * Gives back the memory of a weight read from its external data file (it is read again if needed);
 * no-op for weights that were changed or live inline.
 */
export function releaseWeight(t: Tensor): void {
  t.release();
}

/** A new tensor of float32 values stored in a float type (the scales and biases a float16 model needs). */
export function floatTensor(dataType: number, dims: number[], values: Float32Array, name = ''): Tensor {
  return new TensorClass(dataType, dims, encodeFloat(dataType, values), name);
}

/**
 * The one line a command gives when it compresses nothing: what it looked for, and why each weight it
 * found was left alone, grouped by reason, most common first ("nothing to quantize: none of the 3
 * MatMul/Gemm weights can be: 3 excluded by --exclude (2 Gemm, 1 MatMul)").
 */
export function nothingToDoMessage(verb: string, lookedFor: string, reasons: readonly { op: string; reason: string }[]): string {
  if (reasons.length === 0) return `nothing to ${verb}: the model has no ${lookedFor}`;
  const byReason = new Map<string, Map<string, number>>();
  for (const r of reasons) {
    // Names differ from weight to weight; the reason is what they share.
    const reason = r.reason.replace(/\s*\((node|weight) '[^']*'\)/g, '').replace(/'[^']*'/g, 'its weight').replace(/^its weight its weight/, 'its weight');
    const ops = byReason.get(reason) ?? new Map<string, number>();
    ops.set(r.op, (ops.get(r.op) ?? 0) + 1);
    byReason.set(reason, ops);
  }
  const total = (ops: Map<string, number>) => [...ops.values()].reduce((a, b) => a + b, 0);
  const parts = [...byReason].sort((a, b) => total(b[1]) - total(a[1])).map(([reason, ops]) => {
    const detail = ops.size > 1 ? ` (${[...ops].sort((a, b) => b[1] - a[1]).map(([op, n]) => `${n} ${op}`).join(', ')})` : ` (${[...ops.keys()][0]})`;
    return `${total(ops)} ${reason}${detail}`;
  });
  return `nothing to ${verb}: none of the ${reasons.length} ${lookedFor} can be: ${parts.slice(0, 3).join('; ')}${parts.length > 3 ? `; and ${parts.length - 3} more reasons` : ''}`;
}
