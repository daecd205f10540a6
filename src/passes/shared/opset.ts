/**
 * Raising a model's ai.onnx opset import, as a pass that needs a newer op (DequantizeLinear with `axis`
 * needs 13, blocked and 4-bit DequantizeLinear need 21) must do. Raising the import re-reads every node
 * under the newer schema, so nodes whose signature changed in between are rewritten first: attributes
 * that became inputs (Slice 10, Clip/Pad 11, Squeeze/Unsqueeze/ReduceSum/Split 13, Reduce* 18),
 * Softmax's 2-D coercion (13), inference-mode Dropout (12), TopK's k (10), Split's num_outputs (18).
 * The rules are those of the ONNX operator changelog (onnx/docs/Changelog.md) and the onnx version
 * converter (onnx/version_converter/adapters). Nodes we cannot rewrite (Upsample, Scatter, old Resize,
 * Scan 8) make `planOpsetUpgrade` say no, and the caller chooses another format instead.
 */
import { DataType } from '../../core/dtype.js';
import { makeAttr } from '../../ir/attribute.js';
import type { Graph } from '../../ir/graph.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import { Tensor } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';

/** For each op, the opset versions at which a node written for an earlier version must be rewritten. */
const breaking: Record<string, number[]> = {
  Slice: [10],
  TopK: [10],
  Clip: [11],
  Pad: [11],
  Dropout: [12],
  Squeeze: [13],
  Unsqueeze: [13],
  ReduceSum: [13],
  Split: [13, 18],
  Softmax: [13],
  LogSoftmax: [13],
  Hardmax: [13],
  ReduceMean: [18],
  ReduceMax: [18],
  ReduceMin: [18],
  ReduceProd: [18],
  ReduceL1: [18],
  ReduceL2: [18],
  ReduceLogSum: [18],
  ReduceLogSumExp: [18],
  ReduceSumSquare: [18],
  // No rewrite: deprecated or changed in ways that need shapes or training state.
  Upsample: [10],
  Scatter: [11],
  Resize: [11],
  Scan: [9],
};

const unsupported = new Set(['Upsample', 'Scatter', 'Resize', 'Scan']);

/** What raising the opset would involve: the nodes to rewrite, or why it cannot be done. */
export interface OpsetUpgradePlan {
  from: number;
  to: number;
  /** Nodes (op types with counts) that get rewritten. */
  rewrites: Record<string, number>;
  /** Nodes that block the upgrade, described; empty when it can proceed. */
  blockers: string[];
}

function* defaultDomainNodes(g: Graph): Generator<Node> {
  for (const n of g.allNodes()) if (n.domain === '') yield n;
}

/** Which rewrites raising the ai.onnx opset to `to` needs, and whether anything blocks it. */
export function planOpsetUpgrade(model: Model, to: number): OpsetUpgradePlan {
  const from = model.opset('') ?? to;
  const plan: OpsetUpgradePlan = { from, to, rewrites: {}, blockers: [] };
  if (from >= to) return plan;
  for (const n of defaultDomainNodes(model.graph)) {
    const versions = breaking[n.opType];
    if (!versions || !versions.some((v) => v > from && v <= to)) continue;
    if (unsupported.has(n.opType)) plan.blockers.push(`${n.describe()} changed meaning after opset ${from}`);
    else if (n.opType === 'Dropout' && n.output(1) && n.output(1)!.uses.length > 0) plan.blockers.push(`${n.describe()} uses its mask output`);
    else plan.rewrites[n.opType] = (plan.rewrites[n.opType] ?? 0) + 1;
  }
  return plan;
}

function int64Const(g: Graph, name: string, values: number[]): Value {
  return g.root().addInitializer(g.root().uniqueName(name), Tensor.int64([values.length], values));
}

function scalarLike(g: Graph, name: string, value: number, x: Value | null): Value {
  const t = x?.elemType ?? DataType.FLOAT;
  const tensor = t === DataType.DOUBLE ? new Tensor(DataType.DOUBLE, [], Float64Array.of(value)) : Tensor.float32([], [value]);
  return g.root().addInitializer(g.root().uniqueName(name), tensor);
}

/** Moves an ints attribute to input `index` as an int64 constant (omitted when the attribute is absent). */
function attrToInput(n: Node, attr: string, index: number): void {
  const vals = n.attrInts(attr);
  n.attributes.delete(attr);
  if (vals === undefined) return;
  while (n.inputs.length < index) n.addInput(null);
  n.setInput(index, int64Const(n.graph, `${n.name || n.opType}_${attr}`, vals));
}

/** Rewrites one node for the newer schema (only ops listed in `breaking` and not in `unsupported`). */
function rewrite(n: Node, from: number, to: number): void {
  const crosses = (v: number) => v > from && v <= to;
  const g = n.graph;
  switch (n.opType) {
    case 'Slice': {
      const starts = n.attrInts('starts') ?? [];
      const ends = n.attrInts('ends') ?? [];
      const axes = n.attrInts('axes');
      for (const a of ['starts', 'ends', 'axes']) n.attributes.delete(a);
      n.setInput(1, int64Const(g, `${n.name}_starts`, starts));
      n.setInput(2, int64Const(g, `${n.name}_ends`, ends));
      if (axes) n.setInput(3, int64Const(g, `${n.name}_axes`, axes));
      return;
    }
    case 'TopK': {
      const k = n.attrInt('k', 1);
      n.attributes.delete('k');
      n.setInput(1, int64Const(g, `${n.name}_k`, [k]));
      return;
    }
    case 'Clip': {
      const lo = n.attrFloat('min');
      const hi = n.attrFloat('max');
      n.attributes.delete('min');
      n.attributes.delete('max');
      if (lo !== undefined) n.setInput(1, scalarLike(g, `${n.name}_min`, lo, n.input(0)));
      if (hi !== undefined) {
        if (lo === undefined) n.setInput(1, null);
        n.setInput(2, scalarLike(g, `${n.name}_max`, hi, n.input(0)));
      }
      return;
    }
    case 'Pad': {
      const pads = n.attrInts('pads') ?? n.attrInts('paddings') ?? [];
      const value = n.attrFloat('value', 0);
      n.attributes.delete('pads');
      n.attributes.delete('paddings');
      n.attributes.delete('value');
      n.setInput(1, int64Const(g, `${n.name}_pads`, pads));
      if (value !== 0) n.setInput(2, scalarLike(g, `${n.name}_value`, value, n.input(0)));
      return;
    }
    case 'Dropout': {
      // Inference: Dropout is the identity on its first output.
      n.opType = 'Identity';
      for (const a of [...n.attributes.keys()]) n.attributes.delete(a);
      const mask = n.output(1);
      if (mask) n.setOutput(1, null);
      return;
    }
    case 'Squeeze':
    case 'Unsqueeze':
    case 'ReduceSum':
      attrToInput(n, 'axes', 1);
      return;
    case 'ReduceMean':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceProd':
    case 'ReduceL1':
    case 'ReduceL2':
    case 'ReduceLogSum':
    case 'ReduceLogSumExp':
    case 'ReduceSumSquare':
      attrToInput(n, 'axes', 1);
      return;
    case 'Split': {
      if (crosses(13)) attrToInput(n, 'split', 1);
      if (crosses(18) && !n.input(1)) n.setAttr(makeAttr('num_outputs', n.outputs.length, 'int'));
      return;
    }
    case 'Softmax':
    case 'LogSoftmax':
    case 'Hardmax': {
      const axis = n.attrInt('axis', 1);
      const x = n.input(0)!;
      const rank = x.shape?.length;
      if (axis === -1 || (rank !== undefined && (axis === rank - 1 || axis + rank === rank - 1))) {
        n.setAttr(makeAttr('axis', -1, 'int'));
        return;
      }
      // Before 13 the op flattened its input to 2-D at `axis` and worked on the second dimension; say so
      // explicitly: Flatten, the op on the last axis, and a Reshape back to the input's shape.
      const flat = g.createNode({ opType: 'Flatten', inputs: [x], attributes: [makeAttr('axis', axis, 'int')], outputs: [`${x.name}_flat`], before: n });
      const shape = g.createNode({ opType: 'Shape', inputs: [x], outputs: [`${x.name}_shape`], before: n });
      const out = n.output(0)!;
      const inner = g.createValue(`${out.name}_2d`);
      n.setInput(0, flat.output(0));
      n.setOutput(0, inner);
      n.setAttr(makeAttr('axis', -1, 'int'));
      g.createNode({ opType: 'Reshape', inputs: [inner, shape.output(0)], outputs: [out], after: n });
      return;
    }
    default:
      return;
  }
}

/**
 * Raises the ai.onnx opset import to `to` (and the IR version with it), rewriting the nodes listed by
 * `planOpsetUpgrade`. Throws if the plan has blockers; call planOpsetUpgrade first to choose.
 */
export function upgradeOpset(model: Model, to: number): OpsetUpgradePlan {
  const plan = planOpsetUpgrade(model, to);
  if (plan.blockers.length > 0) throw new Error(`cannot raise the opset to ${to}: ${plan.blockers.join('; ')}`);
  if (plan.from >= to) return plan;
  const nodes = [...defaultDomainNodes(model.graph)];
  for (const n of nodes) {
    const versions = breaking[n.opType];
    if (versions && versions.some((v) => v > plan.from && v <= to)) rewrite(n, plan.from, to);
  }
  model.ensureOpset('', to);
  return plan;
}
