/**
 * Structure of a model: how many nodes of each op type (subgraphs included, so an If-heavy model such
 * as silero VAD is not reported as three nodes), the opsets it imports, its inputs and outputs, and the
 * largest constant tensors (where the bytes are).
 */
import { dataTypeName } from '../core/dtype.js';
import type { Model } from '../ir/model.js';
import type { Dim, Value } from '../ir/value.js';
import { allConstants, tensorBytes } from './size.js';

/** `MatMul` for the default domain, `com.microsoft.MatMulNBits` otherwise (as runtime errors name ops). */
export function opKey(domain: string, opType: string): string {
  return domain && domain !== 'ai.onnx' ? `${domain}.${opType}` : opType;
}

/** One constant tensor in the largest-tensors list. */
export interface TensorInfo {
  name: string;
  dataType: string;
  dims: number[];
  elements: number;
  bytes: number;
}

/** A graph input or output: name, type, shape (symbolic dims by name). */
export interface IoInfo {
  name: string;
  dataType: string;
  shape: (number | string)[] | null;
}

/** What structureOf measures. */
export interface StructureSummary {
  /** Node count per op (sorted by count, then name). */
  opCounts: Record<string, number>;
  nodes: number;
  /** Graphs including the main one. */
  graphs: number;
  opsets: { domain: string; version: number }[];
  irVersion: number;
  inputs: IoInfo[];
  outputs: IoInfo[];
  /** The ten largest constant tensors (initializers and Constant values) by bytes. */
  largestTensors: TensorInfo[];
}

function ioInfo(v: Value): IoInfo {
  const t = v.elemType;
  const shape = v.shape;
  return {
    name: v.name,
    dataType: t === undefined ? 'unknown' : dataTypeName(t),
    shape: shape ? shape.map((d: Dim) => (d === null ? '?' : d)) : null,
  };
}

/** Op histogram, opsets, inputs/outputs and the `top` largest tensors. */
export function structureOf(model: Model, top = 10): StructureSummary {
  const counts = new Map<string, number>();
  let nodes = 0;
  let graphs = 0;
  for (const g of model.graph.allGraphs()) {
    graphs++;
    for (const n of g.nodes) {
      nodes++;
      const k = opKey(n.domain, n.opType);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  }
  const opCounts = Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
  const tensors: TensorInfo[] = [];
  for (const { value: v, tensor: t } of allConstants(model)) {
    tensors.push({ name: v.name, dataType: dataTypeName(t.dataType), dims: t.dims.slice(), elements: t.size, bytes: tensorBytes(t) });
  }
  tensors.sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : 1));
  return {
    opCounts,
    nodes,
    graphs,
    opsets: model.opsetImports.map((o) => ({ domain: o.domain === '' ? 'ai.onnx' : o.domain, version: o.version })),
    irVersion: model.irVersion,
    inputs: model.graph.inputs.filter((v) => !v.initializer).map(ioInfo),
    outputs: model.graph.outputs.map(ioInfo),
    largestTensors: tensors.slice(0, top),
  };
}

/** compressed - original per op type, only the ops whose count changed. */
export function opCountsDiff(original: Record<string, number>, compressed: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(original), ...Object.keys(compressed)])) {
    const d = (compressed[k] ?? 0) - (original[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}
