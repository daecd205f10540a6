/**
 * Bias correction after pruning: where a layer's pruned weights shift its outputs by a constant on average,
 * the layer's bias takes the shift back.
 *
 * Pruning W -> W' changes the output by (W' - W) x. Over the calibration inputs this has the mean
 * (W' - W) E[x], the same for every token: the part of the error a bias can cancel exactly (Nagel et al.
 * 2019, section 4.2 for quantization; FLAP's bias compensation, An et al. 2024, for pruning). It matters
 * where the inputs share a large mean (GELU / ReLU outputs), which Wanda's and SparseGPT's reconstruction
 * objectives ||W X - W' X||^2 count but do not remove. The shift is `outputShift` (solve.ts); this file
 * finds or makes the bias that receives it:
 *
 * - MatMul whose only reader is an Add of a constant spread along the last axis (what exporters write
 *   for nn.Linear): that constant;
 * - Gemm with a constant C of shape [N], [1, N], [M, N] or a single value (beta != 0): C, scaled by
 *   alpha / beta; a Gemm without C gets one (opset >= 11);
 * - anything else (no bias, a bias Add that is not constant, an output read by several nodes): a new
 *   Add of an [N] initializer right after the layer, which keeps the output's name.
 *
 * Biases stay in the model's float type: an existing float16 / bfloat16 bias takes the shift in its own
 * type, and a new one is made in the layer weight's type (an Add of float32 to float16 is not a valid
 * model).
 *
 * `prepareBias` makes these edits before the block-by-block driver starts (the driver forbids graph
 * changes while it runs), with zeros; the pass then adds each layer's shift into the initializer in place,
 * so the blocks after it are calibrated on corrected outputs. `revertBias` undoes a site that received
 * nothing.
 */
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import { constantOf, floatTensor, isWeightFloatType, promoteConstant, setWeightValues, weightValues, weightView } from '../../ir/weights.js';
import type { PruneLayer } from './layers.js';

/** Where a layer's output shift goes. */
export interface BiasSite {
  /** The float initializer (of the model's float type) that receives the correction. */
  value: Value;
  /** 'vector': N values along the last axis; 'rows': a Gemm C [M, N], every row gets the shift. */
  layout: 'vector' | 'rows';
  /** From an output shift to the initializer's units: alpha / beta for Gemm C, alpha for an Add after a Gemm, else 1. */
  scale: number;
  /** What was used or made: an existing bias Add or Gemm C, or a new Add / Gemm C. */
  kind: 'add' | 'gemm-c' | 'new-add' | 'new-gemm-c';
  /** The node the correction is applied by (the Add, or the Gemm itself). */
  node: Node;
  /** For new sites: how to undo them. */
  undo?: () => void;
}

/** True when every dimension but the last is 1 and the last is n (or the tensor holds one value). */
function alongLastAxis(dims: readonly number[], n: number): boolean {
  if (dims.length === 0) return true;
  for (let i = 0; i < dims.length - 1; i++) if (dims[i] !== 1) return false;
  return dims[dims.length - 1] === n || dims[dims.length - 1] === 1;
}

/**
 * The constant `v` as an initializer read only by `user` at input `index`: a Constant node becomes an
 * initializer, a shared initializer or one listed as a graph input (which a caller could override) is
 * copied. A single value is spread to `n` values along the last axis. Returns the value to write.
 */
function ownConstant(v: Value, user: Node, index: number, n: number, vector: boolean): Value {
  promoteConstant(v);
  const t = v.initializer!;
  const spread = vector && t.size === 1 && n > 1;
  if (v.uses.length === 1 && !v.isGraphInput && !v.isGraphOutput && !spread) return v;
  const g = user.graph;
  const dims = spread ? (t.dims.length === 0 ? [n] : [...t.dims.slice(0, -1), n]) : [...t.dims];
  const data = spread ? new Float32Array(n).fill(weightView(t)[0]!) : weightValues(t);
  const copy = g.addInitializer(`${v.name}_bias_corrected`, floatTensor(t.dataType, dims, data));
  user.setInput(index, copy);
  if (v.uses.length === 0 && !v.isGraphInput && !v.isGraphOutput) v.graph.removeInitializer(v);
  return copy;
}

/** The float type of a layer's weight, which its bias has too. */
function floatTypeOf(l: PruneLayer): number {
  return l.weight.initializer!.dataType;
}

/** A new Add of an [N] zero initializer after `node`'s output, which keeps the output's name. */
function newAdd(l: PruneLayer, name: string, scale: number): BiasSite {
  const node = l.node;
  const g = node.graph;
  const y = node.output(0)!;
  const pre = g.createValue(`${y.name}_before_bias`, y.type ? { ...y.type } : undefined);
  node.setOutput(0, pre);
  const b = g.addInitializer(`${name}_bias_correction`, floatTensor(floatTypeOf(l), [l.rows], new Float32Array(l.rows)));
  const add = g.createNode({ opType: 'Add', name: `${name}_bias_correction`, inputs: [pre, b], outputs: [y], after: node });
  return {
    value: b,
    layout: 'vector',
    scale,
    kind: 'new-add',
    node: add,
    undo: () => {
      g.removeNode(add, { safe: false, keepOutputs: true });
      node.setOutput(0, y);
      g.removeInitializer(b);
    },
  };
}

/**
 * Finds or makes the bias of a pruned MatMul / Gemm layer (see the file comment), or says why it cannot
 * (an opset without broadcasting Add). Edits the graph: call before the calibration driver starts.
 */
export function prepareBias(l: PruneLayer, opset: number): BiasSite | string {
  const node = l.node;
  const name = node.name || l.weight.name;
  const N = l.rows;
  if (l.op === 'Gemm') {
    const alpha = node.attrFloat('alpha', 1)!;
    const beta = node.attrFloat('beta', 1)!;
    const c = node.input(2);
    if (beta !== 0 && !c && opset >= 11) {
      const v = node.graph.addInitializer(`${name}_bias_correction`, floatTensor(floatTypeOf(l), [N], new Float32Array(N)));
      node.setInput(2, v);
      return {
        value: v,
        layout: 'vector',
        scale: alpha / beta,
        kind: 'new-gemm-c',
        node,
        undo: () => {
          node.setInput(2, null);
          node.trimInputs();
          node.graph.removeInitializer(v);
        },
      };
    }
    const t = c ? constantOf(c) : undefined;
    if (beta !== 0 && c && t && isWeightFloatType(t.dataType)) {
      const d = t.dims;
      if (alongLastAxis(d, N)) return { value: ownConstant(c, node, 2, N, true), layout: 'vector', scale: alpha / beta, kind: 'gemm-c', node };
      if (d.length === 2 && d[1] === N) return { value: ownConstant(c, node, 2, N, false), layout: 'rows', scale: alpha / beta, kind: 'gemm-c', node };
    }
    if (opset < 7) return `opset ${opset} has no broadcasting Add to carry a bias (7 or later needed)`;
    return newAdd(l, name, alpha);
  }
  // MatMul: an Add of a constant right after it is the layer's bias.
  const y = node.output(0)!;
  const use = y.uses.length === 1 && !y.isGraphOutput ? y.uses[0]! : undefined;
  if (use && use.node.opType === 'Add' && use.node.domain === '' && use.node.inputs.length === 2) {
    const other = use.node.input(1 - use.index);
    const t = other ? constantOf(other) : undefined;
    if (other && t && isWeightFloatType(t.dataType) && alongLastAxis(t.dims, N) && t.rank <= (y.shape?.length ?? t.rank)) {
      return { value: ownConstant(other, use.node, 1 - use.index, N, true), layout: 'vector', scale: 1, kind: 'add', node: use.node };
    }
  }
  if (opset < 7) return `opset ${opset} has no broadcasting Add to carry a bias (7 or later needed)`;
  return newAdd(l, name, 1);
}

/**
 * Adds `shift` (one value per output channel, in the layer's output units) into the site's initializer,
 * stored back in its own float type.
 */
export function addToBias(site: BiasSite, shift: ArrayLike<number>): void {
  const t = site.value.initializer!;
  const data = weightValues(t);
  const n = shift.length;
  if (site.layout === 'rows') {
    for (let r = 0; r < data.length / n; r++) for (let j = 0; j < n; j++) data[r * n + j] = data[r * n + j]! + site.scale * shift[j]!;
  } else {
    for (let j = 0; j < n; j++) data[j] = data[j]! + site.scale * shift[j]!;
  }
  setWeightValues(t, data);
  t.encoding = undefined;
}

/** Undoes a new site (a new Add or Gemm C) that received no correction; existing biases stay as they are. */
export function revertBias(site: BiasSite): void {
  site.undo?.();
}

/** How the report names a site: `Add /blocks.0/q/Add`, `Gemm C`, `new Add ...`. */
export function describeSite(site: BiasSite): string {
  switch (site.kind) {
    case 'add':
      return `Add ${site.node.name || site.value.name}`;
    case 'gemm-c':
      return 'Gemm C';
    case 'new-gemm-c':
      return `new Gemm C '${site.value.name}'`;
    case 'new-add':
      return `new Add ${site.node.name}`;
  }
}
