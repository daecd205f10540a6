/**
 * Size metrics of a model: bytes on disk (the model file plus the external data files it references),
 * parameters, bytes by data type, stored bits per weight, and sparsity.
 *
 * What counts as a weight. Every constant tensor, an initializer or the value of a Constant node (many
 * exporters, Paddle's and older PyTorch ones among them, store every weight as a Constant node), in
 * the main graph and in subgraphs, gets one role from how it is used:
 * - a quantization parameter: a scale, zero point or g_idx of a quantizing op (DequantizeLinear input 1
 *   and 2, MatMulNBits inputs 2-4, QLinearConv inputs 1, 2, 4, 5, 6, 7, ...). Its bytes count (they are
 *   the price of quantization) but its elements are not parameters;
 * - a quantized weight: the integer data such an op dequantizes (DequantizeLinear input 0, MatMulNBits
 *   input 1, QLinearConv input 3, ...). Its parameters are the weights it stands for: MatMulNBits packs
 *   N x K weights of `bits` bits into uint8 blobs, so its parameters are N * K, not its byte count;
 * - any other floating-point constant: a float weight (including biases);
 * - any other integer or bool constant: shapes, axes, indices, not parameters.
 * Bits per weight = (bits stored for weights + bits of their quantization parameters) / parameters,
 * so 4-bit weights in groups of 32 with one float16 scale each come out at 4 + 16/32 = 4.5.
 * Sparsity = weights whose value is exactly zero / parameters; a quantized weight is zero when its
 * integer equals its zero point (the dequantized value is then exactly 0).
 */
import { statSync } from 'node:fs';
import { DataType, bitsPerElement, dataTypeName, isFloatType } from '../core/dtype.js';
import { AttrType } from '../ir/attribute.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { NumericArray, Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';

/** Bytes of a model as stored: the model file and each external data file. */
export interface FileBytes {
  path?: string;
  bytes: number;
  files: { path: string; bytes: number }[];
}

/**
 * Bytes on disk of a model file and the external data files it references (each counted once).
 * A missing external file is the loader's error to raise; here it counts as 0 bytes.
 */
export function bytesOnDisk(modelPath: string, externalFiles: readonly string[] = []): FileBytes {
  const files = [{ path: modelPath, bytes: statSync(modelPath).size }];
  for (const f of new Set(externalFiles)) {
    let bytes = 0;
    try {
      bytes = statSync(f).size;
    } catch {
      bytes = 0;
    }
    files.push({ path: f, bytes });
  }
  return { path: modelPath, bytes: files.reduce((s, f) => s + f.bytes, 0), files };
}

/** How an op uses its inputs, for the ops that consume quantized weights. */
interface QuantRole {
  /** input index -> zero-point input index (-1: none; the zero point is 0) of a quantized weight */
  weights: Record<number, number>;
  /** input indices holding scales, zero points, group indices */
  qparams: number[];
}

/** The quantizing ops of ai.onnx and com.microsoft, by op type. */
const quantRoles: Record<string, QuantRole> = {
  DequantizeLinear: { weights: { 0: 2 }, qparams: [1, 2] },
  QuantizeLinear: { weights: {}, qparams: [1, 2] },
  DynamicQuantizeLinear: { weights: {}, qparams: [] },
  MatMulNBits: { weights: { 1: 3 }, qparams: [2, 3, 4] },
  QLinearConv: { weights: { 3: 5 }, qparams: [1, 2, 4, 5, 6, 7] },
  QLinearMatMul: { weights: { 0: 2, 3: 5 }, qparams: [1, 2, 4, 5, 6, 7] },
  MatMulInteger: { weights: { 0: 2, 1: 3 }, qparams: [2, 3] },
  ConvInteger: { weights: { 1: 3 }, qparams: [2, 3] },
  DynamicQuantizeMatMul: { weights: { 1: 3 }, qparams: [2, 3] },
  MatMulIntegerToFloat: { weights: { 1: 5 }, qparams: [2, 3, 4, 5] },
  QGemm: { weights: { 3: 5 }, qparams: [1, 2, 4, 5, 7, 8] },
  GatherBlockQuantized: { weights: { 0: 3 }, qparams: [2, 3] },
  QAttention: { weights: { 1: 7 }, qparams: [3, 4, 6, 7] },
};

/** How a constant tensor is used: a weight, a quantized weight, a quantization parameter, or other. */
export type WeightRole = 'weight' | 'quantized' | 'qparam' | 'other';

/** One constant tensor with its role and what it contributes. */
export interface WeightEntry {
  name: string;
  role: WeightRole;
  tensor: Tensor;
  /** Parameters it stands for (0 unless a weight). */
  params: number;
  /** Bits it occupies as stored. */
  bits: number;
  /** Parameters exactly zero (after dequantization), for weights. */
  zeros: number;
  /** The op consuming it (the first use), for layer tables. */
  op?: string;
}

/** What size.ts measures on the IR (bytes on disk come from `bytesOnDisk`). */
export interface WeightStats {
  params: number;
  /** Bits of weights plus their quantization parameters, per parameter (0 when there are none). */
  bitsPerWeight: number;
  sparsity: number;
  /** Bytes of every constant tensor, by ONNX data type name (FLOAT, INT8, ...). */
  bytesByDataType: Record<string, number>;
  /** Parameters by the data type that stores them. */
  paramsByDataType: Record<string, number>;
  entries: WeightEntry[];
}

/** Bytes one tensor occupies as raw data (4-bit types two per byte, rounded up). */
export function tensorBytes(t: Tensor): number {
  return Math.ceil((t.size * bitsPerElement(t.dataType)) / 8);
}

/** A constant tensor of the model and the value that carries it. */
export interface ConstantTensor {
  value: Value;
  tensor: Tensor;
  /** 'initializer' (dense or sparse) or 'constant' (the `value` of a Constant node). */
  source: 'initializer' | 'constant';
}

/**
 * Every constant tensor of the model's graphs (main graph and subgraphs): initializers, dense and
 * sparse, and the tensor `value` of Constant nodes.
 */
export function* allConstants(model: Model): Generator<ConstantTensor> {
  for (const g of model.graph.allGraphs()) {
    for (const value of [...g.initializers, ...g.sparseInitializers]) yield { value, tensor: value.initializer!, source: 'initializer' };
    for (const n of g.nodes) {
      if (n.opType !== 'Constant' || n.domain !== '') continue;
      const a = n.attr('value');
      const out = n.output(0);
      if (a?.type === AttrType.TENSOR && out) yield { value: out, tensor: a.value, source: 'constant' };
    }
  }
}

/** The constant tensor a value holds: its initializer, or the tensor of the Constant node producing it. */
export function constantTensorOf(v: Value | null | undefined): Tensor | undefined {
  if (!v) return undefined;
  if (v.initializer) return v.initializer;
  const p = v.producer;
  if (p && p.opType === 'Constant' && p.domain === '') {
    const a = p.attr('value');
    if (a?.type === AttrType.TENSOR) return a.value;
  }
  return undefined;
}

function roleOf(v: Value, t: Tensor): { role: WeightRole; use?: { node: Node; index: number } } {
  let qparam: { node: Node; index: number } | undefined;
  for (const use of v.uses) {
    const r = quantRoles[use.node.opType];
    if (!r) continue;
    if (r.weights[use.index] !== undefined) return { role: 'quantized', use };
    if (r.qparams.includes(use.index)) qparam ??= use;
  }
  if (qparam) return { role: 'qparam', use: qparam };
  if (isFloatType(t.dataType)) return { role: 'weight', use: v.uses[0] };
  return { role: 'other', use: v.uses[0] };
}

/** Zero counts of float weights seen while their data was in memory anyway (see noteZeros). */
const knownZeros = new WeakMap<Tensor, number>();

/**
 * Counts the zeros of a float tensor whose data is in memory now (a streamed run that has just used it)
 * and remembers them, so that measuring a model larger than memory does not read that tensor again.
 */
export function noteZeros(t: Tensor): void {
  if (!t.loaded || !isFloatType(t.dataType) || knownZeros.has(t)) return;
  knownZeros.set(t, countFloatZeros(t, t.view() as NumericArray));
}

/** Zero count of a float weight (fp16/bf16/fp8 compared on their bit patterns: +0 and -0). */
function floatZeros(t: Tensor): number {
  return knownZeros.get(t) ?? reading(t, (d) => countFloatZeros(t, d));
}

/**
 * Runs `fn` on a tensor's data for reading; data read from its external file only for this is given
 * back afterwards, so that counting over a model larger than memory holds one tensor at a time.
 */
function reading<T>(t: Tensor, fn: (d: NumericArray) => T): T {
  const wasLoaded = t.loaded;
  try {
    return fn(t.view() as NumericArray);
  } finally {
    if (!wasLoaded) t.release();
  }
}

function countFloatZeros(t: Tensor, d: NumericArray): number {
  let n = 0;
  switch (t.dataType) {
    case DataType.FLOAT:
      return d instanceof Float32Array ? zerosFloat32(d) : countFloatZerosAny(d);
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return d instanceof Uint16Array ? zerosHalf(d) : countHalfZerosAny(d);
    case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2FNUZ:
      for (let i = 0; i < d.length; i++) if (d[i] === 0) n++; // 0x80 is NaN in the FNUZ formats
      return n;
    case DataType.FLOAT8E4M3FN:
    case DataType.FLOAT8E5M2:
    case DataType.FLOAT4E2M1:
      {
        const signBit = t.dataType === DataType.FLOAT4E2M1 ? 0x8 : 0x80;
        for (let i = 0; i < d.length; i++) if (((d[i] as number) & ~signBit) === 0) n++;
      }
      return n;
    default:
      return countFloatZerosAny(d);
  }
}

// One loop per array type: a loop that sees several typed-array types runs several times slower.
function zerosFloat32(d: Float32Array): number {
  let n = 0;
  for (let i = 0; i < d.length; i++) if (d[i] === 0) n++;
  return n;
}

function zerosHalf(d: Uint16Array): number {
  // Two values per 32-bit word: nearly every word holds no zero and costs one test (2x the speed).
  const aligned = d.byteOffset % 4 === 0;
  const words = aligned ? new Uint32Array(d.buffer, d.byteOffset, d.length >>> 1) : new Uint32Array(0);
  let n = 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if ((w & 0x7fff) === 0 || (w & 0x7fff0000) === 0) n += ((w & 0x7fff) === 0 ? 1 : 0) + ((w & 0x7fff0000) === 0 ? 1 : 0);
  }
  for (let i = words.length * 2; i < d.length; i++) if ((d[i]! & 0x7fff) === 0) n++;
  return n;
}

function countHalfZerosAny(d: NumericArray): number {
  let n = 0;
  for (let i = 0; i < d.length; i++) if (((d[i] as number) & 0x7fff) === 0) n++;
  return n;
}

function countFloatZerosAny(d: NumericArray): number {
  let n = 0;
  for (let i = 0; i < d.length; i++) if (d[i] === 0) n++;
  return n;
}

/** The zero point of element `i` of `w`: per tensor, per axis (1-D), or blocked (same rank as w). */
function zeroPointIndexer(w: Tensor, zp: Tensor, axis: number): (i: number) => number {
  if (zp.size === 1) return () => 0;
  const rank = w.dims.length;
  const ax = axis < 0 ? axis + rank : axis;
  const strides = new Array<number>(rank).fill(1);
  for (let k = rank - 2; k >= 0; k--) strides[k] = strides[k + 1]! * w.dims[k + 1]!;
  if (zp.dims.length === 1) {
    const stride = strides[ax] ?? 1;
    const dim = w.dims[ax] ?? 1;
    return (i) => Math.floor(i / stride) % dim;
  }
  // Blocked: zp dims equal w dims except along `axis`, where they count blocks.
  const zpStrides = new Array<number>(rank).fill(1);
  for (let k = rank - 2; k >= 0; k--) zpStrides[k] = zpStrides[k + 1]! * zp.dims[k + 1]!;
  const block = Math.ceil(w.dims[ax]! / zp.dims[ax]!);
  return (i) => {
    let rest = i;
    let j = 0;
    for (let k = 0; k < rank; k++) {
      const c = Math.floor(rest / strides[k]!);
      rest -= c * strides[k]!;
      j += (k === ax ? Math.floor(c / block) : c) * zpStrides[k]!;
    }
    return j;
  };
}

/** Zeros of an integer weight dequantized with an (optional) zero point. */
function quantizedZeros(w: Tensor, zp: Tensor | undefined, axis: number): number {
  return reading(w, (d) => countQuantizedZeros(w, d, zp, axis));
}

function countQuantizedZeros(w: Tensor, d: NumericArray, zp: Tensor | undefined, axis: number): number {
  let n = 0;
  if (!zp || zp.dataType === DataType.STRING) {
    for (let i = 0; i < d.length; i++) if (Number(d[i]) === 0) n++;
    return n;
  }
  const z = zp.view() as NumericArray;
  const at = zeroPointIndexer(w, zp, axis);
  for (let i = 0; i < d.length; i++) if (Number(d[i]) === Number(z[at(i)])) n++;
  return n;
}

/** MatMulNBits: B is [N, blocks, blob] uint8 with `bits`-bit values, low bits first. */
function matMulNBitsStats(node: Node, b: Tensor): { params: number; zeros: number } {
  const N = node.attrInt('N', 0);
  const K = node.attrInt('K', 0);
  const bits = node.attrInt('bits', 4);
  const blockSize = node.attrInt('block_size', 32);
  const params = N * K;
  const blocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  return reading(b, (d) => countNBits(node, d as Uint8Array, N, K, bits, blockSize, params, blocks, blob));
}

let nibbleTable: Uint8Array | undefined;
/** table[zp << 8 | byte]: how many of the byte's two nibbles equal zp (0..15). */
function nibbleMatches(): Uint8Array {
  if (!nibbleTable) {
    nibbleTable = new Uint8Array(16 * 256);
    for (let zp = 0; zp < 16; zp++) for (let b = 0; b < 256; b++) nibbleTable[(zp << 8) | b] = Number((b & 0xf) === zp) + Number(b >> 4 === zp);
  }
  return nibbleTable;
}

function countNBits(node: Node, data: Uint8Array, N: number, K: number, bits: number, blockSize: number, params: number, blocks: number, blob: number): { params: number; zeros: number } {
  if (!Number.isInteger(blob) || data.length < N * blocks * blob || ![2, 4, 8].includes(bits)) return { params, zeros: 0 };
  const zpValue = constantTensorOf(node.input(3));
  const mask = (1 << bits) - 1;
  const perByte = 8 / bits;
  const zpBytesPerRow = Math.ceil((blocks * bits) / 8);
  const zpOf = (n: number, blk: number): number => {
    if (!zpValue) return 1 << (bits - 1);
    const z = zpValue.view() as NumericArray;
    if (zpValue.dataType !== DataType.UINT8) return Number(z[n * blocks + blk]);
    const idx = n * zpBytesPerRow + Math.floor(blk / perByte);
    return (Number(z[idx]) >> ((blk % perByte) * bits)) & mask;
  };
  let zeros = 0;
  const table = bits === 4 ? nibbleMatches() : undefined;
  for (let n = 0; n < N; n++) {
    for (let blk = 0; blk < blocks; blk++) {
      const zp = zpOf(n, blk);
      const base = (n * blocks + blk) * blob;
      const count = Math.min(blockSize, K - blk * blockSize);
      if (table && count === blockSize) {
        // A whole 4-bit block: both nibbles of a byte at once, through the table.
        const row = zp << 8;
        for (let i = base; i < base + blob; i++) zeros += table[row | data[i]!]!;
        continue;
      }
      for (let j = 0; j < count; j++) {
        const byte = data[base + Math.floor(j / perByte)]!;
        if (((byte >> ((j % perByte) * bits)) & mask) === zp) zeros++;
      }
    }
  }
  return { params, zeros };
}

/** Parameters, bits and zeros of every constant tensor (see the file comment for the rules). */
export function weightStats(model: Model): WeightStats {
  const entries: WeightEntry[] = [];
  const bytesByDataType: Record<string, number> = {};
  const paramsByDataType: Record<string, number> = {};
  let params = 0;
  let bits = 0;
  let zeros = 0;
  for (const { value: v, tensor: t } of allConstants(model)) {
    if (t.dataType === DataType.STRING) continue;
    const tBits = t.size * bitsPerElement(t.dataType);
    const type = dataTypeName(t.dataType);
    bytesByDataType[type] = (bytesByDataType[type] ?? 0) + tensorBytes(t);
    const { role, use } = roleOf(v, t);
    const op = use ? (use.node.domain ? `${use.node.domain}.${use.node.opType}` : use.node.opType) : undefined;
    const entry: WeightEntry = { name: v.name, role, tensor: t, params: 0, bits: tBits, zeros: 0, op };
    if (role === 'weight') {
      entry.params = t.size;
      entry.zeros = floatZeros(t);
    } else if (role === 'quantized' && use) {
      if (use.node.opType === 'MatMulNBits') {
        Object.assign(entry, matMulNBitsStats(use.node, t));
      } else {
        entry.params = t.size;
        const zpIndex = quantRoles[use.node.opType]!.weights[use.index]!;
        const zp = zpIndex >= 0 ? constantTensorOf(use.node.input(zpIndex)) : undefined;
        const axis = use.node.opType === 'DequantizeLinear' ? use.node.attrInt('axis', 1) : use.node.opType === 'QLinearConv' ? 0 : -1;
        entry.zeros = quantizedZeros(t, zp, axis);
      }
    }
    if (role === 'weight' || role === 'quantized') {
      params += entry.params;
      zeros += entry.zeros;
      paramsByDataType[type] = (paramsByDataType[type] ?? 0) + entry.params;
    }
    if (role !== 'other') bits += tBits;
    entries.push(entry);
  }
  return {
    params,
    bitsPerWeight: params > 0 ? bits / params : 0,
    sparsity: params > 0 ? zeros / params : 0,
    bytesByDataType,
    paramsByDataType,
    entries,
  };
}
