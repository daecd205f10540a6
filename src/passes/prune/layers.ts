/**
 * Which layers prune may touch, and the row layout its solvers work in (solve.ts): rows = output channels,
 * columns = inputs. MatMul [K, N] and Gemm without transB are transposed; Gemm with transB [N, K] is already
 * in rows; Conv [O, I/g, kh, kw] becomes [O, kh*kw*(I/g)] with input channels innermost.
 */
import { transpose } from '../../tensor/linalg.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import { findWeights, promoteConstant, setWeightValues, weightView, type WeightSite } from '../../ir/weights.js';
import type { PruneOptions } from './options.js';
import type { RowMatrix } from './solve.js';

/** A layer prune works on. */
export interface PruneLayer {
  node: Node;
  op: 'MatMul' | 'Gemm' | 'Conv';
  weight: Value;
  /** Rows (output channels) and columns (inputs) of the row layout. */
  rows: number;
  cols: number;
  /** Conv: input channels per group (the innermost run of columns), and kernel positions. */
  inChannels: number;
  positions: number;
  params: number;
}

/** A layer that stays dense, and why (the report lists these). */
export interface SkippedLayer {
  name: string;
  op: string;
  reason: string;
  /** Elements of its weight (0 when unknown). */
  params: number;
}

/** The weight of a layer in row layout (a float32 copy, whatever type the model stores it in). */
export function toRows(l: PruneLayer): RowMatrix {
  const w = weightView(l.weight.initializer!);
  const { rows, cols } = l;
  const out = new Float32Array(rows * cols);
  if (l.op === 'Conv') {
    const I = l.inChannels;
    const P = l.positions;
    for (let o = 0; o < rows; o++) for (let i = 0; i < I; i++) for (let p = 0; p < P; p++) out[o * cols + p * I + i] = w[(o * I + i) * P + p]!;
  } else if (isTransposed(l)) {
    // Stored [K, N] = [cols, rows].
    out.set(transpose(w, cols, rows));
  } else {
    out.set(w);
  }
  return { rows, cols, data: out };
}

/** Writes a row-layout matrix back into the layer's weight initializer (same shape, its own type). */
export function fromRows(l: PruneLayer, m: Float32Array): void {
  const t = l.weight.initializer!;
  const w = new Float32Array(t.size);
  const { rows, cols } = l;
  if (l.op === 'Conv') {
    const I = l.inChannels;
    const P = l.positions;
    for (let o = 0; o < rows; o++) for (let i = 0; i < I; i++) for (let p = 0; p < P; p++) w[(o * I + i) * P + p] = m[o * cols + p * I + i]!;
  } else if (isTransposed(l)) {
    w.set(transpose(m, rows, cols));
  } else {
    w.set(m);
  }
  setWeightValues(t, w);
}

/** True when the stored weight is [K, N] (MatMul, Gemm without transB). */
function isTransposed(l: PruneLayer): boolean {
  return l.op === 'MatMul' || (l.op === 'Gemm' && l.node.attrInt('transB', 0) === 0);
}

function layerOf(s: WeightSite): PruneLayer | string {
  const t = s.tensor;
  if (s.op === 'Conv') {
    const [O, I, ...k] = t.dims as [number, number, ...number[]];
    const P = k.reduce((a, b) => a * b, 1);
    return { node: s.node, op: 'Conv', weight: s.value, rows: O, cols: I * P, inChannels: I, positions: P, params: t.size };
  }
  if (s.op === 'MatMul' || s.op === 'Gemm') {
    if (s.op === 'Gemm' && s.node.attrInt('transA', 0) !== 0) return 'Gemm with transA = 1';
    const transposed = s.op === 'MatMul' || s.node.attrInt('transB', 0) === 0;
    const [a, b] = t.dims as [number, number];
    const rows = transposed ? b : a;
    const cols = transposed ? a : b;
    return { node: s.node, op: s.op, weight: s.value, rows, cols, inChannels: cols, positions: 1, params: t.size };
  }
  return `${s.op} tables are not pruned`;
}

/**
 * The layers to prune: constant float weights of MatMul, Gemm and Conv in the main graph, minus excluded
 * names, weights shared by several nodes, and (with keepSensitive) the first weight layer and the output
 * heads. Everything left out is listed with its reason.
 */
export function pruneLayers(model: Model, options: Pick<PruneOptions, 'exclude' | 'keepSensitive'>): { layers: PruneLayer[]; skipped: SkippedLayer[] } {
  const { sites, skipped: notWeights } = findWeights(model);
  const skipped: SkippedLayer[] = notWeights.map((s) => ({ name: s.node.name, op: s.node.opType, reason: s.reason, params: s.params }));
  const layers: PruneLayer[] = [];
  const main = sites.filter((s) => s.node.graph === model.graph);
  const first = main[0];
  for (const s of sites) {
    const name = s.node.name;
    if (s.op === 'Gather') continue;
    if (s.node.graph !== model.graph) {
      skipped.push({ name, op: s.op, reason: 'inside a subgraph', params: s.params });
      continue;
    }
    if (options.exclude?.test(name)) {
      skipped.push({ name, op: s.op, reason: 'excluded by --exclude', params: s.params });
      continue;
    }
    if (s.shared) {
      skipped.push({ name, op: s.op, reason: `its weight '${s.value.name}' is shared with other nodes`, params: s.params });
      continue;
    }
    if (options.keepSensitive && (s === first || s.role === 'head' || s.role === 'first-conv')) {
      skipped.push({ name, op: s.op, reason: `${s.role === 'head' ? 'output head' : 'first layer'}: kept dense by default (--no-keep-sensitive prunes it)`, params: s.params });
      continue;
    }
    const l = layerOf(s);
    if (typeof l === 'string') {
      skipped.push({ name, op: s.op, reason: l, params: s.params });
      continue;
    }
    promoteConstant(s.value);
    layers.push(l);
  }
  return { layers, skipped };
}

/** The layer as its node reads it now (after channel pruning changed its weight's shape). */
export function refreshLayer(l: PruneLayer): PruneLayer {
  const idx = 1;
  const v = l.node.input(idx)!;
  const t = v.initializer!;
  const site: WeightSite = {
    node: l.node,
    op: l.op,
    inputIndex: idx,
    value: v,
    tensor: t,
    dataType: t.dataType,
    storage: 'initializer',
    external: t.source !== undefined,
    main: true,
    channelAxis: 0,
    reductionAxis: 1,
    params: t.size,
    role: 'body',
    shared: false,
  };
  const fresh = layerOf(site);
  if (typeof fresh === 'string') throw new Error(`${l.node.describe()}: ${fresh}`);
  return fresh;
}
