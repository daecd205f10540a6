/**
 * A value: a named edge of the graph. It knows its producer (a node output, or none for graph inputs and
 * initializers) and every use (node, input index). These links are maintained by the Node and Graph edit
 * methods, never recomputed (STYLE.md, habit 4); do not assign `producer` or `uses` yourself.
 */
import type { Graph } from './graph.js';
import type { Node } from './node.js';
import type { Tensor } from './tensor.js';

/** A dimension: a number, a symbolic name (dim_param) or unknown. */
export type Dim = number | string | null;

/** What value_info says of a value. Non-tensor types are carried as onnx/'s decoded TypeProto. */
export type TypeInfo =
  | { kind: 'tensor'; elemType: number; shape?: Dim[]; denotation?: string; dimDenotations?: (string | undefined)[] }
  | { kind: 'other'; proto: unknown };

export interface Use {
  node: Node;
  index: number;
}

export class Value {
  name: string;
  type?: TypeInfo;
  docString?: string;
  /** The constant this value holds when it is an initializer (or a sparse initializer, densified). */
  initializer?: Tensor;
  /** Set by the graph: the graph whose scope defines this value. */
  graph: Graph;
  /** Maintained by Node: the node producing it and the output index, or null. */
  producer: Node | null = null;
  producerIndex = -1;
  /** Maintained by Node: where the value is consumed (including inside subgraphs). */
  readonly uses: Use[] = [];
  /** Opaque per-value extras onnx/ keeps for a faithful save (e.g. value_info metadata). */
  encoding?: unknown;

  /** Prefer graph.createValue / graph.addInitializer / node outputs; they register the name. */
  constructor(graph: Graph, name: string, type?: TypeInfo) {
    this.graph = graph;
    this.name = name;
    this.type = type;
  }

  /** True when this value is a constant: an initializer. */
  get isConstant(): boolean {
    return this.initializer !== undefined;
  }

  get isGraphInput(): boolean {
    return this.graph.inputs.includes(this);
  }

  get isGraphOutput(): boolean {
    return this.graph.outputs.includes(this);
  }

  /** Element type from value_info or the initializer, if known. */
  get elemType(): number | undefined {
    if (this.initializer) return this.initializer.dataType;
    return this.type?.kind === 'tensor' ? this.type.elemType : undefined;
  }

  /** Shape from the initializer or value_info, if known. */
  get shape(): Dim[] | undefined {
    if (this.initializer) return this.initializer.dims;
    return this.type?.kind === 'tensor' ? this.type.shape : undefined;
  }

  /** The nodes using this value, each once. */
  consumers(): Node[] {
    return [...new Set(this.uses.map((u) => u.node))];
  }

  /** Renames the value, keeping the graph's name table up to date. */
  rename(newName: string): void {
    this.graph.renameValue(this, newName);
  }

  toString(): string {
    return `Value(${this.name})`;
  }
}
