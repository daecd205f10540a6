/**
 * Weight discovery: which constant weights a compression pass can work on, how each is laid out (which axis
 * is the output channel, which is summed over), and the role it plays in the network (output head,
 * embedding table, first convolution), which passes use to keep sensitive layers at higher precision
 * (NNCF and TensorRT-ModelOpt keep the head and the embeddings of an int4 model in 8 bits).
 */
import { DataType } from '../../core/dtype.js';
import type { Graph } from '../../ir/graph.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import type { Tensor } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';

/** Op types whose constant weights we know how to find. */
export const weightOpTypes = ['MatMul', 'Gemm', 'Conv', 'Gather'] as const;
export type WeightOpType = (typeof weightOpTypes)[number];

/** What a weight does in the network, for precision defaults. */
export type WeightRole = 'body' | 'head' | 'embedding' | 'first-conv';

/** One constant weight read by one node. */
export interface WeightSite {
  node: Node;
  op: WeightOpType;
  /** Index of the node input that reads the weight. */
  inputIndex: number;
  /** The initializer value (it may be read by other nodes too: see `shared`). */
  value: Value;
  tensor: Tensor;
  /** Axis of output channels (MatMul: N = 1; Gemm: 0 with transB else 1; Conv: 0; Gather: 0, the rows). */
  channelAxis: number;
  /** Axis that the op sums over (K), along which groups run; for Gather the embedding dimension 1. */
  reductionAxis: number;
  params: number;
  role: WeightRole;
  /** True when another node reads the same initializer. */
  shared: boolean;
}

/** A node that reads a weight-like input which discovery leaves alone, and why. */
export interface SkippedWeight {
  node: Node;
  reason: string;
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

function isFloatWeight(v: Value | null): boolean {
  const t = constantOf(v);
  return !!t && t.dataType === DataType.FLOAT;
}

/** The weight site of one node, if it has one (or a reason to skip it). */
function siteOf(node: Node): Omit<WeightSite, 'role' | 'shared'> | SkippedWeight | undefined {
  const op = node.opType;
  if (node.domain !== '') return undefined;
  if (op === 'MatMul') {
    const w = node.input(1);
    const t = constantOf(w);
    if (!w || !t) return undefined;
    if (!isFloatWeight(w)) return { node, reason: `its weight '${w.name}' is not float32` };
    if (t.rank !== 2) return { node, reason: `its weight '${w.name}' has rank ${t.rank}, not 2` };
    return { node, op, inputIndex: 1, value: w, tensor: t, channelAxis: 1, reductionAxis: 0, params: t.size };
  }
  if (op === 'Gemm') {
    const w = node.input(1);
    const t = constantOf(w);
    if (!w || !t) return undefined;
    if (!isFloatWeight(w)) return { node, reason: `its weight '${w.name}' is not float32` };
    if (t.rank !== 2) return { node, reason: `its weight '${w.name}' has rank ${t.rank}, not 2` };
    const transB = node.attrInt('transB', 0) !== 0;
    return { node, op, inputIndex: 1, value: w, tensor: t, channelAxis: transB ? 0 : 1, reductionAxis: transB ? 1 : 0, params: t.size };
  }
  if (op === 'Conv') {
    const w = node.input(1);
    const t = constantOf(w);
    if (!w || !t) return undefined;
    if (!isFloatWeight(w)) return { node, reason: `its weight '${w.name}' is not float32` };
    if (t.rank < 3) return { node, reason: `its weight '${w.name}' has rank ${t.rank}` };
    return { node, op, inputIndex: 1, value: w, tensor: t, channelAxis: 0, reductionAxis: 1, params: t.size };
  }
  if (op === 'Gather') {
    const w = node.input(0);
    const t = constantOf(w);
    if (!w || !t) return undefined;
    if (!isFloatWeight(w)) return undefined;
    if (t.rank !== 2) return { node, reason: `its table '${w.name}' has rank ${t.rank}, not 2` };
    if (node.attrInt('axis', 0) !== 0) return { node, reason: 'it gathers along axis 1, not rows of a table' };
    return { node, op, inputIndex: 0, value: w, tensor: t, channelAxis: 0, reductionAxis: 1, params: t.size };
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

/**
 * Finds the constant float weights of MatMul, Gemm, Conv and Gather nodes in the model (subgraphs
 * included), in graph order, with their roles. Nodes that read a constant weight we cannot handle are
 * returned in `skipped` with the reason, so the caller can say so.
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
        let role: WeightRole = 'body';
        if (s.op === 'Gather') role = 'embedding';
        else if (s.op === 'Conv' && !firstConvSeen && g === model.graph) {
          role = 'first-conv';
          firstConvSeen = true;
        } else if (g === model.graph && reachesOutput(node)) role = 'head';
        sites.push({ ...s, role, shared: false });
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
