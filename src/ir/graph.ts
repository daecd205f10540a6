/**
 * A graph: ordered nodes, inputs, outputs, initializers, and the name table of the values it defines.
 * Subgraphs (If/Loop/Scan bodies) are Graphs whose `outer` is the graph of the node holding them; a name
 * not defined in a subgraph resolves in the outer scopes. Every edit goes through methods here or on Node,
 * which keep producers, uses and the name table consistent.
 */
import type { Attribute } from './attribute.js';
import { Node } from './node.js';
import type { Tensor } from './tensor.js';
import { Value, type TypeInfo } from './value.js';

export interface NodeSpec {
  opType: string;
  domain?: string;
  name?: string;
  inputs?: (Value | null)[];
  /** Output values to attach, or names (made unique), or a count of fresh outputs. Default 1. */
  outputs?: (Value | string | null)[] | number;
  attributes?: Attribute[];
  /** Where to put it: before or after a node; default at the end. */
  before?: Node;
  after?: Node;
}

export class Graph {
  name: string;
  docString?: string;
  /** The enclosing graph, for subgraphs. */
  outer?: Graph;
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly nodes: Node[] = [];
  /** Initializers in file order. */
  readonly initializers: Value[] = [];
  /** Sparse initializers (their `initializer` is the dense tensor; onnx/ keeps the sparse form). */
  readonly sparseInitializers: Value[] = [];
  /** Values whose type is recorded in value_info, in file order. */
  readonly valueInfo: Value[] = [];
  /** Opaque extras onnx/ keeps for a faithful save (quantization annotations, metadata). */
  encoding?: unknown;
  private readonly names = new Map<string, Value>();
  private readonly usedNames: Set<string>;
  private readonly usedNodeNames: Set<string>;

  constructor(name = '', outer?: Graph) {
    this.name = name;
    this.outer = outer;
    const root = outer?.root();
    this.usedNames = root ? root.usedNames : new Set();
    this.usedNodeNames = root ? root.usedNodeNames : new Set();
  }

  /** The top-level graph. */
  root(): Graph {
    let g: Graph = this;
    while (g.outer) g = g.outer;
    return g;
  }

  /** The value of that name visible from this graph (this scope, then outer scopes). */
  value(name: string): Value | undefined {
    for (let g: Graph | undefined = this; g; g = g.outer) {
      const v = g.names.get(name);
      if (v) return v;
    }
    return undefined;
  }

  /** Values defined in this graph's own scope. */
  ownValues(): IterableIterator<Value> {
    return this.names.values();
  }

  /** A name not used anywhere in the model: `base`, else `base_1`, `base_2`, ... */
  uniqueName(base: string): string {
    if (!this.usedNames.has(base)) return base;
    for (let i = 1; ; i++) {
      const n = `${base}_${i}`;
      if (!this.usedNames.has(n)) return n;
    }
  }

  /** A node name not used anywhere in the model. */
  uniqueNodeName(base: string): string {
    if (!this.usedNodeNames.has(base)) {
      this.usedNodeNames.add(base);
      return base;
    }
    for (let i = 1; ; i++) {
      const n = `${base}_${i}`;
      if (!this.usedNodeNames.has(n)) {
        this.usedNodeNames.add(n);
        return n;
      }
    }
  }

  /** Creates a value in this scope. With `exact`, the name must be free; else it is made unique. */
  createValue(name: string, type?: TypeInfo, exact = false): Value {
    if (exact && this.names.has(name)) throw new Error(`value name '${name}' is already defined in graph '${this.name}'`);
    const unique = exact ? name : this.uniqueName(name);
    const v = new Value(this, unique, type);
    this.register(v);
    return v;
  }

  /** Adds a graph input. */
  addInput(name: string, type?: TypeInfo, exact = true): Value {
    const v = this.createValue(name, type, exact);
    this.inputs.push(v);
    return v;
  }

  /** Adds an initializer holding `tensor` (its name is set to the value's). */
  addInitializer(name: string, tensor: Tensor, exact = false): Value {
    const v = this.createValue(name, undefined, exact);
    tensor.name = v.name;
    v.initializer = tensor;
    this.initializers.push(v);
    return v;
  }

  /** Registers an existing value (made by the loader) under its name. */
  register(v: Value): void {
    if (v.name === '') throw new Error('values must have a name');
    this.names.set(v.name, v);
    this.usedNames.add(v.name);
  }

  /** Renames a value, keeping the name table and an initializer's tensor name right. */
  renameValue(v: Value, newName: string): void {
    if (v.name === newName) return;
    if (this.usedNames.has(newName)) throw new Error(`value name '${newName}' is already in use`);
    const g = v.graph;
    g.names.delete(v.name);
    this.usedNames.delete(v.name);
    v.name = newName;
    if (v.initializer) v.initializer.name = newName;
    g.names.set(newName, v);
    this.usedNames.add(newName);
  }

  /** Marks a node name as used (the loader calls this for existing names). */
  claimNodeName(name: string): void {
    if (name) this.usedNodeNames.add(name);
  }

  /** Creates a node, wires its inputs, creates its outputs, and inserts it. */
  createNode(spec: NodeSpec): Node {
    const name = this.uniqueNodeName(spec.name ?? spec.opType);
    const node = new Node(spec.opType, spec.domain ?? '', name);
    for (const a of spec.attributes ?? []) node.setAttr(a);
    for (const v of spec.inputs ?? []) node.addInput(v);
    const outs = spec.outputs ?? 1;
    const list: (Value | string | null)[] = typeof outs === 'number' ? Array.from({ length: outs }, (_, i) => `${name}_out${i === 0 ? '' : i}`) : outs;
    list.forEach((o, i) => {
      const v = typeof o === 'string' ? this.createValue(o) : o;
      node.setOutput(i, v);
    });
    this.insertNode(node, spec);
    return node;
  }

  /** Inserts a node already built (its outputs must be registered values of this graph). */
  insertNode(node: Node, where: { before?: Node; after?: Node } = {}): void {
    node.graph = this;
    this.claimNodeName(node.name);
    if (where.before) {
      const i = this.nodes.indexOf(where.before);
      if (i < 0) throw new Error(`${where.before.describe()} is not in graph '${this.name}'`);
      this.nodes.splice(i, 0, node);
    } else if (where.after) {
      const i = this.nodes.indexOf(where.after);
      if (i < 0) throw new Error(`${where.after.describe()} is not in graph '${this.name}'`);
      this.nodes.splice(i + 1, 0, node);
    } else {
      this.nodes.push(node);
    }
  }

  /**
   * Moves `nodes` (in order) from this graph to `to`, another graph of the same model: a branch body
   * lifted into its parent, or a run of nodes sunk into a branch. Every link is kept (the nodes are the
   * same objects); the values they produce move into `to`'s scope and value_info; subgraphs they hold get
   * `to` as their outer scope. The caller keeps scoping valid: what the moved nodes read must be visible
   * from `to`, and what reads their outputs must be in `to` or below it.
   */
  moveNodes(nodes: readonly Node[], to: Graph, where: { before?: Node; after?: Node } = {}): void {
    if (to.root() !== this.root()) throw new Error(`graph '${to.name}' is not part of the same model as '${this.name}'`);
    let after = where.after;
    for (const n of nodes) {
      const i = this.nodes.indexOf(n);
      if (i < 0) throw new Error(`${n.describe()} is not in graph '${this.name}'`);
      this.nodes.splice(i, 1);
      for (const out of n.outputs) {
        if (!out) continue;
        if (this.names.get(out.name) === out) this.names.delete(out.name);
        out.graph = to;
        to.names.set(out.name, out);
        const k = this.valueInfo.indexOf(out);
        if (k >= 0) {
          this.valueInfo.splice(k, 1);
          to.valueInfo.push(out);
        }
      }
      for (const sg of n.subgraphs()) sg.outer = to;
      to.insertNode(n, after ? { after } : { before: where.before });
      if (after) after = n;
    }
  }

  /**
   * Removes a node. With `safe` (the default) it refuses when an output is still used or is a graph
   * output. Its outputs leave the name table unless `keepOutputs` (when they are re-attached elsewhere).
   */
  removeNode(node: Node, options: { safe?: boolean; keepOutputs?: boolean } = {}): void {
    const safe = options.safe ?? true;
    const i = this.nodes.indexOf(node);
    if (i < 0) throw new Error(`${node.describe()} is not in graph '${this.name}'`);
    if (safe) {
      for (const out of node.outputs) {
        if (!out) continue;
        if (out.uses.length > 0) {
          throw new Error(`cannot remove ${node.describe()}: its output '${out.name}' is still used by ${out.uses[0]!.node.describe()}`);
        }
        if (out.isGraphOutput) throw new Error(`cannot remove ${node.describe()}: its output '${out.name}' is a graph output`);
      }
    }
    this.nodes.splice(i, 1);
    node.clearInputs();
    node.outputs.forEach((out, k) => {
      if (!out) return;
      node.setOutput(k, null);
      if (!options.keepOutputs) this.forget(out);
    });
  }

  /**
   * Replaces every use of `from` by `to`, in this graph and its subgraphs. If `from` is a graph output,
   * `to` takes its place there and, so that the model's interface does not change, its name (`from` is
   * renamed to a fresh name first).
   */
  replaceAllUses(from: Value, to: Value): void {
    if (from === to) return;
    for (const use of [...from.uses]) use.node.setInput(use.index, to);
    const g = from.graph;
    const k = g.outputs.indexOf(from);
    if (k >= 0) {
      const outName = from.name;
      from.rename(g.uniqueName(`${outName}_replaced`));
      if (to.graph === g && !to.isGraphInput && !to.isConstant && !to.isGraphOutput) {
        to.rename(outName);
        g.outputs[k] = to;
      } else {
        // An input, constant or existing output cannot take the name: route through an Identity.
        const id = g.createNode({ opType: 'Identity', inputs: [to], outputs: [g.createValue(outName, to.type ? { ...to.type } : from.type, true)] });
        g.outputs[k] = id.output(0)!;
      }
      if (to.type === undefined && from.type) to.type = from.type;
    }
  }

  /** Removes an initializer that has no uses (or throws). */
  removeInitializer(v: Value): void {
    if (v.uses.length > 0) throw new Error(`cannot remove initializer '${v.name}': used by ${v.uses[0]!.node.describe()}`);
    const lists = [this.initializers, this.sparseInitializers, this.inputs];
    for (const list of lists) {
      const i = list.indexOf(v);
      if (i >= 0) list.splice(i, 1);
    }
    this.forget(v);
  }

  /** Drops a value from the name table and value_info. */
  private forget(v: Value): void {
    if (this.names.get(v.name) === v) {
      this.names.delete(v.name);
      this.usedNames.delete(v.name);
    }
    const i = this.valueInfo.indexOf(v);
    if (i >= 0) this.valueInfo.splice(i, 1);
  }

  /**
   * Removes nodes none of whose outputs are used (transitively), and initializers nobody uses.
   * Returns how many nodes and initializers went.
   */
  removeUnused(): { nodes: number; initializers: number } {
    let nodes = 0;
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i]!;
      const live = n.outputs.some((o) => o && (o.uses.length > 0 || o.isGraphOutput));
      if (!live) {
        this.removeNode(n, { safe: false });
        nodes++;
      }
    }
    let initializers = 0;
    for (const v of [...this.initializers, ...this.sparseInitializers]) {
      if (v.uses.length === 0 && !v.isGraphOutput && !v.isGraphInput) {
        this.removeInitializer(v);
        initializers++;
      }
    }
    return { nodes, initializers };
  }

  /** This graph and every subgraph below it, depth first. */
  *allGraphs(): Generator<Graph> {
    yield this;
    for (const n of this.nodes) for (const g of n.subgraphs()) yield* g.allGraphs();
  }

  /** Every node of this graph and its subgraphs. */
  *allNodes(): Generator<Node> {
    for (const g of this.allGraphs()) yield* g.nodes;
  }

  /** The initializer tensor of that name visible from here, if it is a constant. */
  constantOf(v: Value | null | undefined): Tensor | undefined {
    return v?.initializer;
  }
}
