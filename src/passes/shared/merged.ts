/**
 * optimum's "merged" decoder (decoder_model_merged.onnx, issue 14 item 9): the main graph is one If on a
 * bool input `use_cache_branch`; its else branch is the first-step decoder (no past), its then branch the
 * decoder with past; both read the same weights, kept once in the outer graph. Passes find weights and
 * calibrate in the main graph, so around a pass the model is briefly unfolded:
 *
 * 1. `unfoldMergedDecoder`: the then branch is detached from the outer values it reads (each weight then
 *    has one reader), the If is removed and the else branch's nodes are lifted into the main graph. The
 *    model is now a plain first-step decoder, which is also what calibration runs (tokens.ts feeds
 *    use_cache_branch = false and an empty past).
 * 2. The pass runs on it, as on any decoder.
 * 3. `refoldMergedDecoder`: the main graph's nodes sink back into a new else branch and the If is
 *    rebuilt. The then branch is reattached: a weight the pass changed in place (pruning, distillation)
 *    stays shared; a weight it replaced (MatMulNBits, DequantizeLinear, low-rank factors) gets the same
 *    rewrite in the then branch: the new nodes that now stand where the first-step reader was are cloned
 *    in front of the matching with-past reader, wired to that reader's own inputs and outputs, and share
 *    the new initializers. A with-past reader whose rewrite cannot be traced keeps its original weight
 *    (a warning says which), so the output always runs.
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { AttrType, type Attribute } from '../../ir/attribute.js';
import type { Graph } from '../../ir/graph.js';
import type { Model } from '../../ir/model.js';
import { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';

/** A read of an outer-scope value by a node of the with-past branch. */
interface OuterRead {
  node: Node;
  index: number;
  value: Value;
}

/** What `unfoldMergedDecoder` took apart, for `refoldMergedDecoder`. */
export interface UnfoldedDecoder {
  /** The If's name and attributes (then_branch, else_branch, in their order). */
  name: string;
  attributes: Attribute[];
  cond: Value;
  /** The If's outputs (the model's outputs), detached while unfolded, and their names. */
  outputs: Value[];
  outputNames: string[];
  thenBranch: Graph;
  /** The else branch, emptied (its nodes are in the main graph); they go back into it. */
  elseBranch: Graph;
  /** The else branch's output names (the values that stood in for the If's outputs). */
  branchOutputNames: string[];
  reads: OuterRead[];
  /** The first-step nodes as they were before the pass: their inputs and outputs. */
  readers: Map<Node, { inputs: (Value | null)[]; outputs: (Value | null)[] }>;
  /** Every main-graph node before the pass. */
  before: Set<Node>;
  /** First-step nodes the pass added that were cloned into the with-past branch (filled by refold). */
  cloned: Set<Node>;
}

/**
 * The If of a merged decoder: the main graph's only node, on a bool graph input named like
 * use_cache_branch, whose outputs are the model's outputs and whose branches produce their own outputs.
 */
export function findMergedDecoder(model: Model): Node | undefined {
  const g = model.graph;
  if (g.nodes.length !== 1) return undefined;
  const n = g.nodes[0]!;
  if (n.opType !== 'If' || n.domain !== '') return undefined;
  const cond = n.input(0);
  if (!cond || !cond.isGraphInput || cond.elemType !== DataType.BOOL || !/use_cache/i.test(cond.name)) return undefined;
  const thenG = n.attrGraph('then_branch');
  const elseG = n.attrGraph('else_branch');
  if (!thenG || !elseG) return undefined;
  if (g.outputs.length !== n.outputs.length || g.outputs.some((v, i) => n.output(i) !== v)) return undefined;
  for (const b of [thenG, elseG]) {
    if (b.outputs.length !== n.outputs.length) return undefined;
    if (b.outputs.some((v) => v.graph !== b || !v.producer || b.outputs.indexOf(v) !== b.outputs.lastIndexOf(v))) return undefined;
  }
  return n;
}

/**
 * Unfolds a merged decoder in place into its first-step branch (see the header). Returns undefined, and
 * leaves the model alone, when it is not one.
 */
export function unfoldMergedDecoder(model: Model): UnfoldedDecoder | undefined {
  const ifNode = findMergedDecoder(model);
  if (!ifNode) return undefined;
  const g = model.graph;
  const thenBranch = ifNode.attrGraph('then_branch')!;
  const elseBranch = ifNode.attrGraph('else_branch')!;
  const inThen = new Set(thenBranch.allGraphs());
  const reads: OuterRead[] = [];
  for (const n of thenBranch.allNodes()) {
    n.inputs.forEach((v, index) => {
      if (v && !inThen.has(v.graph)) reads.push({ node: n, index, value: v });
    });
  }
  for (const r of reads) r.node.setInput(r.index, null);
  const cond = ifNode.input(0)!;
  const outputs = ifNode.outputs.map((v) => v!);
  const outputNames = outputs.map((v) => v.name);
  g.removeNode(ifNode, { safe: false, keepOutputs: true });
  const lifted = [...elseBranch.nodes];
  const readers: UnfoldedDecoder['readers'] = new Map(lifted.map((n) => [n, { inputs: [...n.inputs], outputs: [...n.outputs] }]));
  elseBranch.moveNodes(lifted, g);
  const branchOutputNames = elseBranch.outputs.map((v) => v.name);
  outputs.forEach((o, k) => {
    const e = elseBranch.outputs[k]!;
    o.rename(g.uniqueName(`${o.name}__if_output`));
    e.rename(outputNames[k]!);
    if (!e.type && o.type) e.type = o.type;
    g.outputs[k] = e;
  });
  return { name: ifNode.name, attributes: [...ifNode.attributes.values()], cond, outputs, outputNames, thenBranch, elseBranch, branchOutputNames, reads, readers, before: new Set(g.nodes), cloned: new Set() };
}

/** Why a with-past reader could not be given its first-step counterpart's rewrite. */
class Untraceable extends Error {}

/**
 * Rebuilds the If after a pass ran on the unfolded model (see the header). Returns how many with-past
 * readers got their counterpart's rewrite and the warnings to report.
 */
export function refoldMergedDecoder(u: UnfoldedDecoder, model: Model): { mirrored: number; warnings: string[] } {
  const g = model.graph;
  const T = u.thenBranch;
  if (T.outer !== g) throw new ModelError('the pass replaced the model it was given; the merged decoder cannot be put back together');
  const outs = [...g.outputs];
  for (const v of outs) {
    if (!v.producer || v.graph !== g) throw new ModelError(`the model output '${v.name}' is no longer computed by a node; the merged decoder cannot be put back together`);
  }
  // The main graph's nodes become the new else branch, but for new ones computing from constants alone
  // (a DequantizeLinear of a weight): they stay in front of the If, where both branches read them
  // (onnxruntime folds a DequantizeLinear into MatMulNBits only when the codes are in the same graph).
  const constant = new Set<Value>(g.initializers);
  const stay = new Set<Node>();
  for (const n of g.nodes) {
    if (u.before.has(n) || n.subgraphs().length > 0 || !n.inputs.every((v) => v === null || constant.has(v)) || n.outputs.some((o) => o?.isGraphOutput)) continue;
    stay.add(n);
    for (const o of n.outputs) if (o) constant.add(o);
  }
  const E = u.elseBranch;
  g.moveNodes(
    g.nodes.filter((n) => !stay.has(n)),
    E,
  );
  const inE = new Set(E.nodes);
  E.outputs.length = 0;
  outs.forEach((v, k) => {
    v.rename(g.uniqueName(u.branchOutputNames[k]!));
    E.outputs.push(v);
  });
  u.outputs.forEach((o, k) => o.rename(u.outputNames[k]!));
  g.outputs.splice(0, g.outputs.length, ...u.outputs);

  const current = (v: Value): boolean => g.value(v.name) === v;
  const byNode = new Map<Node, OuterRead[]>();
  for (const r of u.reads) byNode.set(r.node, [...(byNode.get(r.node) ?? []), r]);
  const taken = new Set<Node>();
  const removed = new Set<Node>();
  const kept: string[] = [];
  let mirrored = 0;
  // First-step readers by the first outer constant they read, to pair them with the with-past ones.
  const byConstant = new Map<Value, Node[]>();
  for (const [n, rec] of u.readers) {
    const c = rec.inputs.find((v) => v?.initializer && v.graph === g);
    if (c) byConstant.set(c, [...(byConstant.get(c) ?? []), n]);
  }
  for (const [node, reads] of byNode) {
    const constants = reads.filter((r) => r.value.initializer);
    if (constants.length === 0) continue; // reads outer inputs only: nothing a pass rewrites
    // The first-step node that read the same outer values at the same slots.
    const first = reads.find((r) => r.value.initializer)!.value;
    const counterpart = (byConstant.get(first) ?? []).find((n) => {
      const rec = u.readers.get(n)!;
      return !taken.has(n) && n.opType === node.opType && n.domain === node.domain && reads.every((r) => rec.inputs[r.index] === r.value);
    });
    if (!counterpart) continue; // a constant only the with-past branch reads: restored below if dropped
    taken.add(counterpart);
    const rec = u.readers.get(counterpart)!;
    const same = inE.has(counterpart) && counterpart.inputs.every((v, i) => v === rec.inputs[i]) && counterpart.outputs.every((v, i) => v === rec.outputs[i]);
    if (same && reads.every((r) => current(r.value))) continue;
    try {
      mirrorRewrite(u, g, inE, T, node, reads, counterpart, removed);
      mirrored++;
    } catch (e) {
      if (!(e instanceof Untraceable)) throw e;
      kept.push(node.name || reads[0]!.value.name);
    }
  }
  // Reattach what the with-past branch still reads as it was; bring back values the pass dropped.
  for (const r of u.reads) {
    if (removed.has(r.node) || r.node.input(r.index) !== null) continue;
    if (!current(r.value)) restore(g, r.value);
    r.node.setInput(r.index, r.value);
  }
  const ifNode = new Node('If', '', u.name);
  for (const a of u.attributes) ifNode.setAttr(a.name === 'else_branch' ? { ...a, type: AttrType.GRAPH, value: E } : a);
  ifNode.addInput(u.cond);
  u.outputs.forEach((o, k) => ifNode.setOutput(k, o));
  g.insertNode(ifNode);
  const warnings: string[] = [];
  if (kept.length > 0) {
    warnings.push(
      `merged decoder: ${kept.length} node${kept.length === 1 ? '' : 's'} of the with-past branch kept as ${kept.length === 1 ? 'it was' : 'they were'} (${kept.slice(0, 3).join(', ')}${kept.length > 3 ? ', ...' : ''}): the first-step rewrite could not be traced`,
    );
  }
  // Rewrites away from the weights (Q/DQ on attention activations) have no with-past counterpart to follow.
  const alone = E.nodes.filter((n) => !u.before.has(n) && !u.cloned.has(n));
  if (alone.length > 0) {
    const byOp = new Map<string, number>();
    for (const n of alone) byOp.set(n.opType, (byOp.get(n.opType) ?? 0) + 1);
    warnings.push(
      `merged decoder: ${alone.length} node${alone.length === 1 ? '' : 's'} the pass added to the first-step branch away from the weights (${[...byOp].map(([k, v]) => `${k} ${v}`).join(', ')}) have no counterpart in the with-past branch, which computes those parts as before`,
    );
  }
  return { mirrored, warnings };
}

/** Puts a value the pass removed back into the main graph (an initializer only the with-past branch reads). */
function restore(g: Graph, v: Value): void {
  if (!v.initializer) throw new ModelError(`the with-past branch reads '${v.name}', which the pass removed`);
  if (g.value(v.name)) v.rename(g.uniqueName(v.name));
  v.graph = g;
  g.register(v);
  g.initializers.push(v);
}

/**
 * Gives the with-past reader `node` the rewrite its first-step counterpart got: inputs the pass rewired
 * (a weight turned MatMulNBits codes or a DequantizeLinear output, an activation put behind Q/DQ) are
 * rewired alike, and outputs now produced by new nodes (a replacement op, a bias Add after the layer)
 * are produced alike. Throws Untraceable, before any change, when the new nodes read first-step values
 * other than the counterpart's own inputs and outputs.
 */
function mirrorRewrite(u: UnfoldedDecoder, g: Graph, inE: Set<Node>, T: Graph, node: Node, reads: OuterRead[], counterpart: Node, removed: Set<Node>): void {
  const rec = u.readers.get(counterpart)!;
  const alive = inE.has(counterpart);
  if (alive && counterpart.outputs.length !== rec.outputs.length) throw new Untraceable();
  // The with-past reader's own inputs, slot by slot (its outer reads are detached: take them from `reads`).
  const ownInputs = node.inputs.map((v, i) => v ?? reads.find((r) => r.index === i)?.value ?? null);
  const map = new Map<Value, Value>();
  rec.inputs.forEach((v, i) => {
    const mine = ownInputs[i];
    if (v && mine && !map.has(v)) map.set(v, mine);
  });
  const changedIn = alive ? counterpart.inputs.map((v, s) => (v !== rec.inputs[s] ? s : -1)).filter((s) => s >= 0) : [];
  const changedOut = rec.outputs.map((y, j) => (y && node.output(j) && (!alive || counterpart.output(j) !== y) ? j : -1)).filter((j) => j >= 0);
  // The counterpart's new outputs (it survived, but writes into a new value the new nodes read).
  const renewed = alive ? changedOut.map((j) => counterpart.output(j)).filter((v): v is Value => v !== null) : [];
  const known = new Set<Value>([...map.keys(), ...renewed]);
  for (const s of changedIn) {
    const v = counterpart.input(s);
    if (v) traceable(v, u, g, known, new Set());
  }
  for (const j of changedOut) {
    const y = rec.outputs[j]!;
    if (!y.producer || !inE.has(y.producer)) throw new Untraceable();
    traceable(y, u, g, known, new Set());
  }

  const memo = new Map<Value, Value>();
  const targets = new Map<Value, Value>();
  for (const j of changedOut) targets.set(rec.outputs[j]!, node.output(j)!);
  let anchor = T.nodes[T.nodes.indexOf(node) + 1];
  if (!alive) {
    T.removeNode(node, { safe: false, keepOutputs: true });
    removed.add(node);
  } else {
    for (const s of changedIn) {
      const v = counterpart.input(s);
      node.setInput(s, v ? cloneCone(v, u, g, T, map, memo, new Map(), node) : null);
    }
    for (const j of changedOut) {
      const now = counterpart.output(j);
      const old = node.output(j)!;
      const fresh = now ? T.createValue(`${T.name}/${now.name}`, now.type ? { ...now.type } : undefined) : null;
      node.setOutput(j, fresh);
      if (now && fresh) map.set(now, fresh);
      targets.set(rec.outputs[j]!, old);
    }
    anchor = T.nodes[T.nodes.indexOf(node) + 1];
  }
  for (const j of changedOut) cloneCone(rec.outputs[j]!, u, g, T, map, memo, targets, anchor);
}

/** Throws Untraceable unless every value under `v` is new, a main-graph value (visible from a branch), or known. */
function traceable(v: Value, u: UnfoldedDecoder, g: Graph, known: Set<Value>, seen: Set<Value>): void {
  if (seen.has(v) || known.has(v)) return;
  seen.add(v);
  if (v.graph === g && g.value(v.name) === v) return;
  const p = v.producer;
  if (!p || u.before.has(p) || p.subgraphs().length > 0) throw new Untraceable();
  for (const i of p.inputs) if (i) traceable(i, u, g, known, seen);
}

/**
 * The with-past counterpart of first-step value `v`: mapped values and main-graph values as they are, new
 * nodes cloned into `T` before `anchor` (outputs in `targets` written into the given values).
 */
function cloneCone(v: Value, u: UnfoldedDecoder, g: Graph, T: Graph, map: Map<Value, Value>, memo: Map<Value, Value>, targets: Map<Value, Value>, anchor: Node | undefined): Value {
  const known = map.get(v) ?? memo.get(v);
  if (known) return known;
  if (v.graph === g && g.value(v.name) === v) return v;
  const p = v.producer;
  if (!p || u.before.has(p) || p.subgraphs().length > 0) throw new Untraceable();
  const inputs = p.inputs.map((i) => (i ? cloneCone(i, u, g, T, map, memo, targets, anchor) : null));
  const outputs = p.outputs.map((o) => {
    if (!o) return null;
    const out = targets.get(o) ?? T.createValue(`${T.name}/${o.name}`, o.type ? { ...o.type } : undefined);
    memo.set(o, out);
    return out;
  });
  u.cloned.add(p);
  T.createNode({ opType: p.opType, domain: p.domain, name: `${T.name}/${p.name}`, inputs, outputs, attributes: [...p.attributes.values()].map((a) => ({ ...a })), before: anchor });
  return memo.get(v)!;
}
