/**
 * Structured pruning: remove whole output channels of Conv layers and output neurons of Gemm / MatMul
 * layers, so that tensors really get smaller, then repair every consumer of the pruned activations.
 *
 * From the pruned layer's output, the removed channel set is followed along the channel axis through the
 * graph (a breadth-first walk over values, each carrying its axis counted from the end, the removed indices
 * and the channel count):
 * - element-wise unary ops, Dropout, Cast, pooling, Pad and Resize with the channel axis untouched pass the
 *   set on unchanged;
 * - element-wise binary ops pass it on when the other operand is a constant (sliced when it is broadcast on
 *   the channel axis, left alone when it is broadcast across it) or is itself reached by the walk with the
 *   very same set (x * gelu-factor(x)); a residual Add of two different paths cannot be repaired and stops
 *   the layer;
 * - BatchNormalization / InstanceNormalization lose the matching scale, bias, mean and variance entries;
 * - Transpose moves the axis; Squeeze of other axes keeps it;
 * - Concat along the channel axis shifts the set by the channels of the inputs before it; Split along it
 *   splits the set and shrinks the split sizes;
 * - Flatten (and a Reshape that flattens the channel axis with everything after it, [N, -1]) turns channel c
 *   into the features c*S .. c*S+S-1 of the flat vector, S being the size of the flattened spatial dims
 *   (a C*H*W feature vector loses H*W rows per removed channel);
 * - the walk ends at consumers that sum over channels: a Conv (input channels of its weight; a depthwise
 *   Conv loses whole filters and passes the set on), a Gemm or MatMul with a constant weight (its input rows).
 * Anything else (a graph output, LayerNorm or Softmax over the channels, a Reshape that splits the channel
 * axis into heads, a Concat along another axis...) means the layer cannot be pruned consistently: it is
 * skipped and the report says why. Shapes the walk needs (Flatten's spatial size, Concat offsets) come from
 * running the model on one sample.
 */
import { DataType } from '../../core/dtype.js';
import { makeAttr } from '../../ir/attribute.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import { Tensor, type NumericArray } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';
import { Session } from '../../runtime/session.js';
import { RTensor } from '../../runtime/value.js';
import { constantOf, promoteConstant } from '../../ir/weights.js';
import type { PruneLayer } from './layers.js';

/** The channel set carried along a value. */
interface Carried {
  /** Channel axis counted from the end (-1 = last). */
  axis: number;
  /** Removed indices along that axis, ascending. */
  removed: number[];
  /** Extent of that axis before pruning. */
  size: number;
}

/** What happens to one layer: the removed channels and the consumers repaired, or why it is skipped. */
export interface ChannelOutcome {
  layer: PruneLayer;
  removed: number[];
  channels: number;
  /** Consumers whose weights or constants lose entries (node names). */
  repaired: string[];
  skipped?: string;
}

/** Removes indices `removed` along `axis` of a dense tensor; returns a new tensor of the same name and type. */
export function dropAlong(t: Tensor, axis: number, removed: readonly number[]): Tensor {
  const dims = t.dims.slice();
  const ax = axis < 0 ? axis + dims.length : axis;
  const size = dims[ax]!;
  const gone = new Uint8Array(size);
  for (const r of removed) gone[r] = 1;
  const keep: number[] = [];
  for (let i = 0; i < size; i++) if (!gone[i]) keep.push(i);
  const outer = dims.slice(0, ax).reduce((a, b) => a * b, 1);
  const inner = dims.slice(ax + 1).reduce((a, b) => a * b, 1);
  const src = t.data as NumericArray;
  const Ctor = src.constructor as { new (n: number): NumericArray };
  const out = new Ctor(outer * keep.length * inner);
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const k of keep) {
      const base = (a * size + k) * inner;
      for (let i = 0; i < inner; i++) (out as Float32Array)[o++] = (src as Float32Array)[base + i]!;
    }
  }
  dims[ax] = keep.length;
  return new Tensor(t.dataType, dims, out, t.name);
}

/** Replaces the constant input `index` of `node` by `make(tensor)`: in place when only this node reads it. */
function editConstant(node: Node, index: number, make: (t: Tensor) => Tensor): void {
  const v = node.input(index)!;
  promoteConstant(v);
  const t = v.initializer!;
  const next = make(t);
  if (v.uses.length === 1 && !v.isGraphOutput) {
    next.name = v.name;
    v.initializer = next;
  } else {
    const nv = node.graph.addInitializer(`${v.name}_pruned`, next);
    node.setInput(index, nv);
  }
}

const unaryOps = new Set([
  'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'Celu', 'HardSigmoid', 'HardSwish', 'Gelu', 'Erf', 'Softplus', 'Softsign',
  'Abs', 'Neg', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Identity', 'Dropout', 'Cast', 'Clip', 'Floor', 'Ceil', 'Round', 'Sin', 'Cos',
  'Mish', 'ThresholdedRelu', 'Sign',
]);
const binaryOps = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'PRelu']);
const spatialOps = new Set(['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'LpPool', 'GlobalLpPool']);

function key(c: Carried): string {
  return `${c.axis}|${c.size}|${c.removed.join(',')}`;
}

/** Shapes of every value on one probe sample. */
export type ShapeMap = Map<Value, number[]>;

/** Runs the model on `feeds` recording the dims of every value produced (and of the feeds). */
export function probeShapes(session: Session, feeds: Record<string, RTensor>): ShapeMap {
  const shapes: ShapeMap = new Map();
  const g = session.model.graph;
  for (const [name, t] of Object.entries(feeds)) {
    const v = g.value(name);
    if (v) shapes.set(v, t.dims.slice());
  }
  const out = session.runSync(feeds, {
    observe: (v, t) => {
      shapes.set(v, t.dims.slice());
    },
  });
  for (const t of out.values()) t.dispose();
  return shapes;
}

/** One sample of every model input: the first row of `batch`, or zeros shaped after the declared input. */
export function probeFeeds(model: Model, batch?: Record<string, RTensor>): Record<string, RTensor> {
  const feeds: Record<string, RTensor> = {};
  for (const v of model.graph.inputs) {
    if (v.initializer) continue;
    const b = batch?.[v.name];
    if (b && b.dims.length > 0 && b.dims[0]! >= 1) {
      const per = b.dims.slice(1).reduce((x, y) => x * y, 1);
      const host = b.host() as NumericArray;
      feeds[v.name] = RTensor.fromHost(b.dataType, [1, ...b.dims.slice(1)], host.slice(0, per));
      continue;
    }
    const dims = (v.shape ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const n = dims.reduce((x, y) => x * y, 1);
    const dt = v.elemType ?? DataType.FLOAT;
    feeds[v.name] = RTensor.fromNumbers(dt, dims, new Array<number>(n).fill(0));
  }
  return feeds;
}

/** The repair plan of one layer: edits to apply, or the reason it cannot be done. */
interface Plan {
  edits: (() => void)[];
  touched: Set<Value>;
  repaired: string[];
}

class Blocked extends Error {}

function rankOf(v: Value, shapes: ShapeMap): number {
  const s = shapes.get(v);
  if (!s) throw new Blocked(`the shape of '${v.name}' is unknown (it was not computed on the probe sample)`);
  return s.length;
}

function dimsOf(v: Value, shapes: ShapeMap): number[] {
  const s = shapes.get(v);
  if (!s) throw new Blocked(`the shape of '${v.name}' is unknown`);
  return s;
}

/** Follows the removed set from the layer's output and lists the edits that repair every consumer. */
function planRepairs(start: Value, carried: Carried, shapes: ShapeMap, opset: number): Plan {
  const plan: Plan = { edits: [], touched: new Set(), repaired: [] };
  const reached = new Map<Value, Carried>();
  const done = new Set<Node>();
  const pending = new Set<Node>();
  const queue: Value[] = [];
  const reach = (v: Value, c: Carried) => {
    const prev = reached.get(v);
    if (prev) {
      if (key(prev) !== key(c)) throw new Blocked(`'${v.name}' would lose two different channel sets`);
      return;
    }
    if (v.isGraphOutput) throw new Blocked(`its channels reach the graph output '${v.name}'`);
    reached.set(v, c);
    plan.touched.add(v);
    queue.push(v);
  };
  reach(start, carried);
  const visitNode = (node: Node, v: Value, c: Carried): boolean => {
    const op = node.domain === '' ? node.opType : `${node.domain}.${node.opType}`;
    const idx = node.inputs.indexOf(v);
    const rank = rankOf(v, shapes);
    const a0 = rank + c.axis;
    if (unaryOps.has(op) || op === 'Pad' || op === 'Resize' || op === 'Upsample') {
      if (idx !== 0) throw new Blocked(`${node.describe()} reads the channels as a parameter`);
      if (op === 'Pad' || op === 'Resize' || op === 'Upsample') {
        const inShape = dimsOf(v, shapes);
        const outShape = dimsOf(node.output(0)!, shapes);
        if (inShape[a0] !== outShape[a0]) throw new Blocked(`${node.describe()} changes the channel axis`);
      }
      reach(node.output(0)!, c);
      return true;
    }
    if (spatialOps.has(op)) {
      if (a0 !== 1) throw new Blocked(`${node.describe()} pools over the channel axis`);
      reach(node.output(0)!, c);
      return true;
    }
    if (binaryOps.has(op)) {
      const others = node.inputs.map((x, i) => ({ x, i })).filter((e) => e.x && e.x !== v);
      for (const { x, i } of others) {
        const t = constantOf(x);
        if (t) {
          const r = t.rank;
          const ax = r + c.axis;
          if (ax < 0 || t.dims[ax] === 1) continue;
          if (t.dims[ax] !== c.size) throw new Blocked(`${node.describe()}: its constant '${x!.name}' has ${t.dims[ax]} entries on the channel axis, not ${c.size}`);
          plan.edits.push(() => editConstant(node, i, (tt) => dropAlong(tt, ax, c.removed)));
          plan.repaired.push(node.name);
          continue;
        }
        const oc = reached.get(x!);
        if (!oc) {
          pending.add(node);
          return false;
        }
        if (key(oc) !== key(c)) throw new Blocked(`${node.describe()} combines two different channel sets (a residual connection)`);
      }
      reach(node.output(0)!, c);
      return true;
    }
    if (op === 'BatchNormalization' || op === 'InstanceNormalization') {
      if (idx !== 0 || a0 !== 1) throw new Blocked(`${node.describe()} normalizes another axis`);
      const n = op === 'BatchNormalization' ? 5 : 3;
      for (let i = 1; i < n; i++) {
        if (!constantOf(node.input(i))) throw new Blocked(`${node.describe()}: input ${i} is not a constant`);
        const ii = i;
        plan.edits.push(() => editConstant(node, ii, (tt) => dropAlong(tt, 0, c.removed)));
      }
      plan.repaired.push(node.name);
      reach(node.output(0)!, c);
      if (node.outputs.slice(1).some((o) => o && o.uses.length > 0)) throw new Blocked(`${node.describe()} is in training mode (running statistics are used)`);
      return true;
    }
    if (op === 'Transpose') {
      const perm = node.attrInts('perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
      const p = perm.indexOf(a0);
      reach(node.output(0)!, { ...c, axis: p - rank });
      return true;
    }
    if (op === 'Squeeze') {
      const inShape = dimsOf(v, shapes);
      const axesT = constantOf(node.input(1));
      if (node.input(1) && !axesT) throw new Blocked(`${node.describe()}: its axes are not a constant`);
      const raw = axesT ? axesT.toNumbers() : node.attrInts('axes');
      // Without axes every size-1 dim goes.
      const axes = raw ? raw.map((a) => (a < 0 ? a + rank : a)) : inShape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
      if (axes.includes(a0)) throw new Blocked(`${node.describe()} squeezes the channel axis`);
      const after = inShape.length - 1 - a0 - axes.filter((a) => a > a0).length;
      reach(node.output(0)!, { ...c, axis: -(after + 1) });
      return true;
    }
    if (op === 'Concat') {
      const axis = node.attrInt('axis', 0);
      const ax = axis < 0 ? axis + rank : axis;
      if (ax !== a0) throw new Blocked(`${node.describe()} concatenates along another axis than the channels`);
      let offset = 0;
      for (const x of node.inputs) {
        if (x === v) break;
        offset += dimsOf(x!, shapes)[ax]!;
      }
      const total = dimsOf(node.output(0)!, shapes)[ax]!;
      reach(node.output(0)!, { axis: c.axis, size: total, removed: c.removed.map((r) => r + offset) });
      return true;
    }
    if (op === 'Split') {
      if (idx !== 0) throw new Blocked(`${node.describe()} reads the channels as split sizes`);
      const axis = node.attrInt('axis', 0);
      const ax = axis < 0 ? axis + rank : axis;
      const outs = node.outputs.filter((o): o is Value => o !== null);
      if (ax !== a0) {
        for (const o of outs) reach(o, c);
        return true;
      }
      const sizes = outs.map((o) => dimsOf(o, shapes)[ax]!);
      let startAt = 0;
      const newSizes: number[] = [];
      outs.forEach((o, k) => {
        const part = c.removed.filter((r) => r >= startAt && r < startAt + sizes[k]!).map((r) => r - startAt);
        if (part.length === sizes[k]) throw new Blocked(`${node.describe()}: output ${k} would lose all its channels`);
        newSizes.push(sizes[k]! - part.length);
        if (part.length > 0) reach(o, { axis: c.axis, size: sizes[k]!, removed: part });
        startAt += sizes[k]!;
      });
      const splitInput = node.input(1);
      if (splitInput) {
        if (!constantOf(splitInput)) throw new Blocked(`${node.describe()}: split sizes are not a constant`);
        plan.edits.push(() => editConstant(node, 1, (tt) => Tensor.int64(tt.dims.slice(), newSizes, tt.name)));
      } else if (node.attrInts('split')) {
        plan.edits.push(() => node.setAttr(makeAttr('split', newSizes, 'int')));
      } else if (new Set(newSizes).size > 1) {
        if (opset >= 13) {
          plan.edits.push(() => {
            const sv = node.graph.addInitializer(`${node.name}_split`, Tensor.int64([newSizes.length], newSizes));
            node.setInput(1, sv);
            // Opset 18: sizes and num_outputs are exclusive.
            node.attributes.delete('num_outputs');
          });
        } else {
          plan.edits.push(() => node.setAttr(makeAttr('split', newSizes, 'int')));
        }
      }
      plan.repaired.push(node.name);
      return true;
    }
    if (op === 'Flatten' || op === 'Reshape') {
      if (idx !== 0) throw new Blocked(`${node.describe()} reads the channels as a shape`);
      const inShape = dimsOf(v, shapes);
      const out = node.output(0)!;
      const outShape = dimsOf(out, shapes);
      let f: number;
      if (op === 'Flatten') {
        const axis = node.attrInt('axis', 1);
        f = axis < 0 ? axis + rank : axis;
      } else {
        // Only a Reshape that keeps the leading dims and flattens the rest, the channel axis included.
        f = outShape.length - 1;
        const same = inShape.slice(0, f).every((d, i) => d === outShape[i]);
        if (!same) throw new Blocked(`${node.describe()} reshapes the channel axis other than by flattening it (attention heads are not pruned)`);
      }
      if (f > a0) throw new Blocked(`${node.describe()} flattens the channel axis into the batch dimension`);
      const outer = inShape.slice(f, a0).reduce((x, y) => x * y, 1);
      const inner = inShape.slice(a0 + 1).reduce((x, y) => x * y, 1);
      const removed: number[] = [];
      for (let o = 0; o < outer; o++) for (const r of c.removed) for (let s = 0; s < inner; s++) removed.push((o * c.size + r) * inner + s);
      removed.sort((x, y) => x - y);
      const size = outer * c.size * inner;
      if (op === 'Reshape') {
        const st = constantOf(node.input(1));
        if (!st) throw new Blocked(`${node.describe()}: its shape is not a constant`);
        const last = Number((st.data as BigInt64Array)[st.size - 1]);
        if (last !== -1) {
          const newLast = size - removed.length;
          plan.edits.push(() =>
            editConstant(node, 1, (tt) => {
              const vals = Array.from(tt.data as BigInt64Array, Number);
              vals[vals.length - 1] = newLast;
              return Tensor.int64(tt.dims.slice(), vals, tt.name);
            }),
          );
          plan.repaired.push(node.name);
        }
      }
      reach(out, { axis: -1, size, removed });
      return true;
    }
    if (op === 'Conv') {
      if (idx !== 0) throw new Blocked(`${node.describe()} reads the channels as a weight`);
      const wv = node.input(1);
      const wt = constantOf(wv);
      if (!wt) throw new Blocked(`${node.describe()} has no constant weight`);
      const group = node.attrInt('group', 1);
      if (group === 1) {
        plan.edits.push(() => editConstant(node, 1, (tt) => dropAlong(tt, 1, c.removed)));
        plan.repaired.push(node.name);
        return true;
      }
      if (group === c.size && wt.dims[1] === 1) {
        // Depthwise: filter c reads channel c only; it goes with its channel (all `mult` of them).
        const mult = wt.dims[0]! / group;
        const rows: number[] = [];
        for (const r of c.removed) for (let k = 0; k < mult; k++) rows.push(r * mult + k);
        plan.edits.push(() => {
          editConstant(node, 1, (tt) => dropAlong(tt, 0, rows));
          if (node.input(2) && constantOf(node.input(2))) editConstant(node, 2, (tt) => dropAlong(tt, 0, rows));
          node.setAttr(makeAttr('group', group - c.removed.length, 'int'));
        });
        if (node.input(2) && !constantOf(node.input(2))) throw new Blocked(`${node.describe()}: its bias is not a constant`);
        plan.repaired.push(node.name);
        reach(node.output(0)!, { axis: c.axis, size: wt.dims[0]!, removed: rows });
        return true;
      }
      throw new Blocked(`${node.describe()} is a grouped convolution (group ${group})`);
    }
    if (op === 'Gemm') {
      if (idx !== 0 || node.attrInt('transA', 0) !== 0) throw new Blocked(`${node.describe()} reads the channels other than as its input rows`);
      if (c.axis !== -1) throw new Blocked(`${node.describe()} reads the channels on another axis`);
      if (!constantOf(node.input(1))) throw new Blocked(`${node.describe()} has no constant weight`);
      const ax = node.attrInt('transB', 0) !== 0 ? 1 : 0;
      plan.edits.push(() => editConstant(node, 1, (tt) => dropAlong(tt, ax, c.removed)));
      plan.repaired.push(node.name);
      return true;
    }
    if (op === 'MatMul') {
      const wt = constantOf(node.input(1));
      if (idx !== 0 || !wt || wt.rank !== 2) throw new Blocked(`${node.describe()} multiplies the channels with another activation`);
      if (c.axis !== -1) throw new Blocked(`${node.describe()} reads the channels on another axis`);
      plan.edits.push(() => editConstant(node, 1, (tt) => dropAlong(tt, 0, c.removed)));
      plan.repaired.push(node.name);
      return true;
    }
    throw new Blocked(`${node.describe()} (${op}) reads the pruned channels and cannot be repaired`);
  };
  while (queue.length > 0 || pending.size > 0) {
    if (queue.length === 0) {
      // Nodes waiting for a second operand the walk never reached: that operand keeps all channels.
      const n = [...pending][0]!;
      throw new Blocked(`${n.describe()} combines the pruned channels with an activation that keeps them (a residual connection)`);
    }
    const v = queue.shift()!;
    const c = reached.get(v)!;
    for (const node of v.consumers()) {
      if (done.has(node)) continue;
      if (node.graph !== v.graph) throw new Blocked(`'${v.name}' is read inside a subgraph`);
      pending.delete(node);
      if (visitNode(node, v, c)) done.add(node);
    }
    // A pending node may be complete now.
    for (const node of [...pending]) {
      const ins = node.inputs.filter((x): x is Value => x !== null && !constantOf(x));
      if (ins.every((x) => reached.has(x))) {
        pending.delete(node);
        const first = ins[0]!;
        if (visitNode(node, first, reached.get(first)!)) done.add(node);
      }
    }
  }
  return plan;
}

/** Removes `removed` output channels of the layer itself (weight rows and bias). */
function producerEdits(l: PruneLayer, removed: number[]): () => void {
  return () => {
    const node = l.node;
    if (l.op === 'Conv') {
      editConstant(node, 1, (t) => dropAlong(t, 0, removed));
      if (node.input(2)) editConstant(node, 2, (t) => dropAlong(t, 0, removed));
    } else if (l.op === 'Gemm') {
      const transB = node.attrInt('transB', 0) !== 0;
      editConstant(node, 1, (t) => dropAlong(t, transB ? 0 : 1, removed));
      const cT = constantOf(node.input(2));
      if (cT && cT.dims[cT.rank - 1] === l.rows && l.rows > 1) editConstant(node, 2, (t) => dropAlong(t, t.rank - 1, removed));
    } else {
      editConstant(node, 1, (t) => dropAlong(t, 1, removed));
    }
  };
}

/** Checks that the producer's own extra inputs can be edited. */
function checkProducer(l: PruneLayer): void {
  const node = l.node;
  if (l.op === 'Conv') {
    if (node.attrInt('group', 1) !== 1) throw new Blocked('grouped convolutions keep their channels (their inputs decide them)');
    if (node.input(2) && !constantOf(node.input(2))) throw new Blocked('its bias is not a constant');
  }
  if (l.op === 'Gemm') {
    const c = node.input(2);
    if (c && !constantOf(c)) throw new Blocked('its C input is not a constant');
  }
}

/**
 * Prunes one layer's channels: plans the repairs from the current graph (with `shapes` of the current
 * graph), then applies them all, or nothing when some consumer cannot be repaired.
 */
export function pruneChannels(l: PruneLayer, removed: number[], shapes: ShapeMap, opset: number): ChannelOutcome {
  const outcome: ChannelOutcome = { layer: l, removed, channels: l.rows, repaired: [] };
  if (removed.length === 0) return outcome;
  try {
    checkProducer(l);
    const out = l.node.output(0)!;
    const rank = rankOf(out, shapes);
    const axis = l.op === 'Conv' ? 1 - rank : -1;
    const plan = planRepairs(out, { axis, removed, size: l.rows }, shapes, opset);
    producerEdits(l, removed)();
    for (const e of plan.edits) e();
    // value_info shapes along the path are stale now: keep the element type, drop the shape.
    for (const v of plan.touched) if (v.type?.kind === 'tensor' && !v.isGraphOutput) v.type = { kind: 'tensor', elemType: v.type.elemType };
    outcome.repaired = [...new Set(plan.repaired)];
  } catch (e) {
    if (!(e instanceof Blocked)) throw e;
    outcome.skipped = e.message;
    outcome.removed = [];
  }
  return outcome;
}
