/**
 * Output-format writers: how a quantized weight is written into the graph.
 *
 * - `writeDequantized`: standard ONNX, the integer tensor plus scale (and zero point) feeding a
 *   DequantizeLinear whose float output replaces the weight where it was read (per tensor from opset 10,
 *   per axis from 13, blocked and 4-bit types from 21; or com.microsoft's DequantizeLinear, which takes an
 *   axis at any opset, for old models whose opset cannot be raised).
 * - `writeMatMulNBits`: com.microsoft.MatMulNBits (onnxruntime docs/ContribOperators.md), which replaces
 *   a MatMul, or a Gemm with its alpha, transB and bias folded in.
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { makeAttr } from '../../ir/attribute.js';
import type { Graph } from '../../ir/graph.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import { Tensor, type DataSource } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';
import type { MatMulNBitsWeights, QuantizedTensor } from '../../tensor/quant.js';
import { floatTensor, isWeightFloatType, weightView } from '../../ir/weights.js';

/** The ONNX integer type that stores codes of this width and signedness. */
export function codeType(bits: number, signed: boolean): number {
  if (bits === 8) return signed ? DataType.INT8 : DataType.UINT8;
  if (bits === 4) return signed ? DataType.INT4 : DataType.UINT4;
  if (bits === 16) return signed ? DataType.INT16 : DataType.UINT16;
  if (bits === 32 && signed) return DataType.INT32;
  throw new RangeError(`no ONNX type stores ${bits}-bit ${signed ? 'signed' : 'unsigned'} codes`);
}

/** An IR tensor of codes in the canonical array of their type (4-bit types one code per entry). */
export function codeTensor(codes: ArrayLike<number>, dims: number[], bits: number, signed: boolean): Tensor {
  const t = codeType(bits, signed);
  let data: Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array;
  if (t === DataType.INT8 || t === DataType.INT4) data = Int8Array.from(codes);
  else if (t === DataType.UINT8 || t === DataType.UINT4) data = Uint8Array.from(codes);
  else if (t === DataType.INT16) data = Int16Array.from(codes);
  else if (t === DataType.UINT16) data = Uint16Array.from(codes);
  else data = Int32Array.from(codes);
  return new Tensor(t, dims, data);
}

/** The ai.onnx opset a standard DequantizeLinear of this tensor needs. */
export function dequantizeOpset(q: QuantizedTensor): number {
  if (q.bits === 4 || q.layout.kind === 'block') return 21;
  if (q.layout.kind === 'axis') return 13;
  return 10;
}

/** Where to write a quantized weight: its name stem and the domain of the DequantizeLinear. */
export interface DequantizeTarget {
  /** Stem for the new initializers' and node's names (the original weight's name). */
  name: string;
  /** '' for ai.onnx (the caller makes sure the opset allows it), or 'com.microsoft' (no blocks). */
  domain: '' | 'com.microsoft';
  /**
   * The float type of the scale and of the dequantized output: the weight's own (float16 for a float16
   * model, which needs opset 19 for a float16 scale in ai.onnx). Default float32.
   */
  floatType?: number;
}

/**
 * Adds the codes, scale and zero point initializers and a DequantizeLinear node to `graph` (placed
 * first: it reads constants only) and returns its float output. The caller rewires the readers.
 */
export function addDequantizeLinear(graph: Graph, q: QuantizedTensor, target: DequantizeTarget): Value {
  if (target.domain === 'com.microsoft' && q.layout.kind === 'block') {
    throw new Error('com.microsoft.DequantizeLinear has no block_size: write blocks with the ai.onnx op at opset 21');
  }
  const codes = graph.addInitializer(`${target.name}_quantized`, codeTensor(q.codes, q.dims.slice(), q.bits, q.signed));
  const floatType = target.floatType ?? DataType.FLOAT;
  const scale = graph.addInitializer(`${target.name}_scale`, floatTensor(floatType, q.scaleDims.slice(), q.scales.slice()));
  const inputs: Value[] = [codes, scale];
  // Symmetric codes have zero point 0, the operator's default: no zero-point tensor.
  if (q.zeroPoints) inputs.push(graph.addInitializer(`${target.name}_zero_point`, codeTensor(q.zeroPoints, q.scaleDims.slice(), q.bits, q.signed)));
  const attributes = [];
  if (q.layout.kind !== 'tensor') attributes.push(makeAttr('axis', q.layout.axis, 'int'));
  if (q.layout.kind === 'block') attributes.push(makeAttr('block_size', q.layout.blockSize, 'int'));
  const node = graph.createNode({
    opType: 'DequantizeLinear',
    domain: target.domain,
    name: `${target.name}_DequantizeLinear`,
    inputs,
    outputs: [`${target.name}_dequantized`],
    attributes,
    before: graph.nodes[0],
  });
  const out = node.output(0)!;
  out.type = { kind: 'tensor', elemType: floatType, shape: q.dims.slice() };
  return out;
}

/**
 * A Reshape of a dequantized matrix back to the weight's own shape (a Conv weight [M, C/G, *kernel]
 * quantized in groups along the rows of its [M, (C/G) prod(kernel)] matrix). Returns the reshaped value.
 */
export function reshapeAfter(v: Value, dims: readonly number[], name: string, floatType: number): Value {
  const g = v.graph;
  const shape = g.addInitializer(`${name}_shape`, Tensor.int64([dims.length], dims));
  const node = g.createNode({ opType: 'Reshape', name: `${name}_Reshape`, inputs: [v, shape], outputs: [`${name}_reshaped`], after: v.producer ?? undefined });
  const out = node.output(0)!;
  out.type = { kind: 'tensor', elemType: floatType, shape: dims.slice() };
  return out;
}

/**
 * Replaces every read of the float initializer `weight` by `replacement` and drops the initializer
 * (and its graph-input entry, in models that list initializers as inputs) once nothing reads it.
 */
export function replaceWeight(weight: Value, replacement: Value): void {
  for (const use of [...weight.uses]) use.node.setInput(use.index, replacement);
  if (weight.uses.length === 0 && !weight.isGraphOutput) weight.graph.removeInitializer(weight);
}

/** Bias handling for a Gemm turned into MatMulNBits: a constant [N] bias input, or an Add after it. */
function gemmBias(node: Node, N: number): { bias?: Float32Array; addAfter?: Value; beta: number } {
  const beta = node.attrFloat('beta', 1);
  const c = node.input(2);
  if (!c || beta === 0) return { beta };
  const t = c.initializer;
  if (t && isWeightFloatType(t.dataType) && (t.size === N || t.size === 1) && (t.rank <= 1 || (t.rank === 2 && t.dims[0] === 1))) {
    const src = weightView(t);
    const bias = new Float32Array(N);
    for (let i = 0; i < N; i++) bias[i] = Math.fround(beta * src[t.size === 1 ? 0 : i]!);
    return { bias, beta };
  }
  return { addAfter: c, beta };
}

/** Packed n-bit weights as the writers take them: the codes in memory, or where they wait on disk. */
export type WrittenNBits = Omit<MatMulNBitsWeights, 'B'> & { B: Uint8Array | DataSource };

/** MatMulNBits' accuracy_level for int8 compute (onnxruntime's CompInt8). */
export const int8AccuracyLevel = 4;

/**
 * Replaces a MatMul (A x W) or a Gemm (alpha A W' + beta C, transA = 0) by com.microsoft.MatMulNBits on
 * the packed weights `w` of W' (the caller transposed B when transB = 1 and folded alpha in). A constant
 * C of N values becomes the op's bias input; any other C is added by an Add node after it. Scales and bias
 * are stored in `floatType`, the type of A (MatMulNBits' T1: float16 for a float16 model). Returns the
 * new node; the old one is removed and its output value kept.
 *
 * `accuracyLevel` defaults to 4 (int8 compute) for 8-bit weights and to unset for the others: onnxruntime
 * 1.30's CPU kernel has no float path for 8-bit blocks and dequantizes the whole weight on every call
 * (a 151936 x 896 head, measured: 2.5-4.3 s and 420 MB more memory per call, against 0.03-0.05 s and
 * nothing at level 4), while its int8 path quantizes A per block, a relative error near 1e-3, well below
 * an 8-bit weight's own rounding.
 */
export function writeMatMulNBits(model: Model, node: Node, w: WrittenNBits, name: string, accuracyLevel?: number, floatType: number = DataType.FLOAT): Node {
  const g = node.graph;
  if (node.opType === 'Gemm' && node.attrInt('transA', 0) !== 0) {
    throw new ModelError(`${node.describe()} has transA = 1, which MatMulNBits cannot express`, 'use --format qdq for it');
  }
  const a = node.input(0)!;
  const out = node.output(0)!;
  const inputs: (Value | null)[] = [
    a,
    g.root().addInitializer(`${name}_Q${w.bits}`, new Tensor(DataType.UINT8, [w.N, w.kBlocks, (w.blockSize * w.bits) / 8], w.B)),
    g.root().addInitializer(`${name}_scales`, floatTensor(floatType, [w.N, w.kBlocks], w.scales)),
  ];
  if (w.zeroPoints) inputs.push(g.root().addInitializer(`${name}_zero_points`, new Tensor(DataType.UINT8, [w.N, w.zeroPoints.length / w.N], w.zeroPoints)));
  let addAfter: Value | undefined;
  let beta = 1;
  if (node.opType === 'Gemm') {
    const b = gemmBias(node, w.N);
    beta = b.beta;
    addAfter = b.addAfter;
    if (b.bias) {
      while (inputs.length < 5) inputs.push(null);
      inputs.push(g.root().addInitializer(`${name}_bias`, floatTensor(floatType, [w.N], b.bias)));
    }
  }
  const attributes = [makeAttr('K', w.K, 'int'), makeAttr('N', w.N, 'int'), makeAttr('bits', w.bits, 'int'), makeAttr('block_size', w.blockSize, 'int')];
  const level = accuracyLevel ?? (w.bits === 8 ? int8AccuracyLevel : 0);
  if (level) attributes.push(makeAttr('accuracy_level', level, 'int'));
  const oldInputs = node.inputs.filter((v): v is Value => v !== null);
  // The new nodes take the old one's place in the graph order.
  const next = g.nodes[g.nodes.indexOf(node) + 1];
  g.removeNode(node, { safe: false, keepOutputs: true });
  const result: Value = addAfter ? g.createValue(`${out.name}_matmul`) : out;
  const mm = g.createNode({ opType: 'MatMulNBits', domain: 'com.microsoft', name: `${node.name || name}_Q${w.bits}`, inputs, outputs: [result], attributes, before: next });
  if (addAfter) {
    let c: Value = addAfter;
    if (beta !== 1) {
      const betaV = g.root().addInitializer(`${name}_beta`, floatTensor(floatType, [], Float32Array.of(beta)));
      c = g.createNode({ opType: 'Mul', inputs: [addAfter, betaV], outputs: [`${name}_beta_C`], after: mm }).output(0)!;
    }
    g.createNode({ opType: 'Add', inputs: [result, c], outputs: [out], name: `${node.name || name}_bias`, after: c.producer === null || c === addAfter ? mm : c.producer });
  }
  for (const v of oldInputs) if (v.initializer && v.uses.length === 0 && !v.isGraphOutput) v.graph.removeInitializer(v);
  model.ensureOpset('com.microsoft', 1);
  return mm;
}

/**
 * Replaces a Gather of a float table [V, D] (gather axis 0) by com.microsoft.GatherBlockQuantized on the
 * table quantized in blocks along D (`w` as quantizeToMatMulNBits lays out the transposed table: rows of
 * packed codes, low bits first, a scale per block, the op's default zero point 2^(bits-1) when symmetric).
 * The gathered rows come out in `floatType`, dequantized; the float table is dropped once nothing reads it.
 */
export function writeGatherBlockQuantized(model: Model, node: Node, w: WrittenNBits, name: string, floatType: number = DataType.FLOAT): Node {
  const g = node.graph;
  const table = node.input(0)!;
  const indices = node.input(1)!;
  const out = node.output(0)!;
  const V = w.N;
  const D = w.K;
  const inputs: (Value | null)[] = [
    g.root().addInitializer(`${name}_Q${w.bits}`, new Tensor(DataType.UINT8, [V, (w.kBlocks * w.blockSize * w.bits) / 8], w.B)),
    indices,
    g.root().addInitializer(`${name}_scales`, floatTensor(floatType, [V, w.kBlocks], w.scales)),
  ];
  if (w.zeroPoints) inputs.push(g.root().addInitializer(`${name}_zero_points`, new Tensor(DataType.UINT8, [V, w.zeroPoints.length / V], w.zeroPoints)));
  if (w.kBlocks * w.blockSize !== D) throw new RangeError(`GatherBlockQuantized needs D (${D}) to be a whole number of blocks of ${w.blockSize}`);
  const next = g.nodes[g.nodes.indexOf(node) + 1];
  g.removeNode(node, { safe: false, keepOutputs: true });
  const attributes = [makeAttr('gather_axis', 0, 'int'), makeAttr('quantize_axis', 1, 'int'), makeAttr('block_size', w.blockSize, 'int'), makeAttr('bits', w.bits, 'int')];
  const gbq = g.createNode({ opType: 'GatherBlockQuantized', domain: 'com.microsoft', name: `${node.name || name}_Q${w.bits}`, inputs, outputs: [out], attributes, before: next });
  if (table.initializer && table.uses.length === 0 && !table.isGraphOutput) table.graph.removeInitializer(table);
  model.ensureOpset('com.microsoft', 1);
  return gbq;
}
