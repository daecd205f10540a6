/**
 * A node: an operator applied to input values, producing output values. Inputs and outputs are edited
 * only through the methods here so that every value's producer and uses stay right.
 */
import { AttrType, intToNumber, type Attribute } from './attribute.js';
import type { Graph } from './graph.js';
import type { Tensor } from './tensor.js';
import type { Value } from './value.js';

export class Node {
  name: string;
  opType: string;
  /** '' (or 'ai.onnx') is the default ONNX domain. */
  domain: string;
  overload?: string;
  docString?: string;
  readonly attributes = new Map<string, Attribute>();
  /** Set when the node is added to a graph. */
  graph!: Graph;
  /** Opaque extras onnx/ keeps for a faithful save (metadata_props, device configs, ...). */
  encoding?: unknown;
  /**
   * The node's metadata_props as the file had them, for reading (exporters record where a node came
   * from here: torch's dynamo exporter writes the module path under 'pkg.torch.onnx.name_scopes' and
   * 'namespace'). A save writes the file's own copy, kept in `encoding`.
   */
  metadata?: ReadonlyMap<string, string>;
  private readonly _inputs: (Value | null)[] = [];
  private readonly _outputs: (Value | null)[] = [];

  constructor(opType: string, domain = '', name = '') {
    this.opType = opType;
    this.domain = domain === 'ai.onnx' ? '' : domain;
    this.name = name;
  }

  /** Input values; null marks an omitted optional input (written as ""). */
  get inputs(): readonly (Value | null)[] {
    return this._inputs;
  }

  /** Output values; null marks an omitted optional output. */
  get outputs(): readonly (Value | null)[] {
    return this._outputs;
  }

  /** The input at `index`, or null when absent or omitted. */
  input(index: number): Value | null {
    return this._inputs[index] ?? null;
  }

  /** The output at `index`, or null. */
  output(index = 0): Value | null {
    return this._outputs[index] ?? null;
  }

  /** Sets input `index` (extending with omitted inputs if needed), updating both values' uses. */
  setInput(index: number, value: Value | null): void {
    while (this._inputs.length <= index) this._inputs.push(null);
    const old = this._inputs[index];
    if (old === value) return;
    if (old) removeUse(old, this, index);
    this._inputs[index] = value;
    if (value) value.uses.push({ node: this, index });
  }

  /** Appends an input. */
  addInput(value: Value | null): void {
    this.setInput(this._inputs.length, value);
  }

  /** Replaces every occurrence of `from` among the inputs by `to`. Returns how many were replaced. */
  replaceInput(from: Value, to: Value | null): number {
    let n = 0;
    for (let i = 0; i < this._inputs.length; i++) {
      if (this._inputs[i] === from) {
        this.setInput(i, to);
        n++;
      }
    }
    return n;
  }

  /** Drops trailing omitted inputs (ONNX allows either form; this is the canonical one). */
  trimInputs(): void {
    while (this._inputs.length > 0 && this._inputs[this._inputs.length - 1] === null) this._inputs.pop();
  }

  /** Detaches all inputs (used by graph.removeNode). */
  clearInputs(): void {
    for (let i = 0; i < this._inputs.length; i++) this.setInput(i, null);
    this._inputs.length = 0;
  }

  /** Sets output `index` to `value` (which must not have a producer yet). Graph registers names. */
  setOutput(index: number, value: Value | null): void {
    while (this._outputs.length <= index) this._outputs.push(null);
    const old = this._outputs[index];
    if (old === value) return;
    if (old) {
      old.producer = null;
      old.producerIndex = -1;
    }
    if (value) {
      if (value.producer && value.producer !== this) {
        throw new Error(`value '${value.name}' is already produced by node '${value.producer.name}'`);
      }
      value.producer = this;
      value.producerIndex = index;
    }
    this._outputs[index] = value;
  }

  /** The attribute, or undefined. */
  attr(name: string): Attribute | undefined {
    return this.attributes.get(name);
  }

  setAttr(attr: Attribute): void {
    this.attributes.set(attr.name, attr);
  }

  /** An INT attribute as a number (clamped to the safe range), or the default. */
  attrInt(name: string, dflt: number): number;
  attrInt(name: string): number | undefined;
  attrInt(name: string, dflt?: number): number | undefined {
    const a = this.attributes.get(name);
    if (!a) return dflt;
    if (a.type !== AttrType.INT) throw new Error(`attribute '${name}' of ${this.describe()} is not an int`);
    return intToNumber(a.value);
  }

  attrFloat(name: string, dflt: number): number;
  attrFloat(name: string): number | undefined;
  attrFloat(name: string, dflt?: number): number | undefined {
    const a = this.attributes.get(name);
    if (!a) return dflt;
    if (a.type === AttrType.FLOAT) return a.value;
    if (a.type === AttrType.INT) return intToNumber(a.value);
    throw new Error(`attribute '${name}' of ${this.describe()} is not a float`);
  }

  attrString(name: string, dflt: string): string;
  attrString(name: string): string | undefined;
  attrString(name: string, dflt?: string): string | undefined {
    const a = this.attributes.get(name);
    if (!a) return dflt;
    if (a.type !== AttrType.STRING) throw new Error(`attribute '${name}' of ${this.describe()} is not a string`);
    return a.value;
  }

  attrInts(name: string, dflt: number[]): number[];
  attrInts(name: string): number[] | undefined;
  attrInts(name: string, dflt?: number[]): number[] | undefined {
    const a = this.attributes.get(name);
    if (!a) return dflt;
    if (a.type !== AttrType.INTS) throw new Error(`attribute '${name}' of ${this.describe()} is not a list of ints`);
    return a.value.map(intToNumber);
  }

  attrFloats(name: string, dflt: number[]): number[];
  attrFloats(name: string): number[] | undefined;
  attrFloats(name: string, dflt?: number[]): number[] | undefined {
    const a = this.attributes.get(name);
    if (!a) return dflt;
    if (a.type !== AttrType.FLOATS) throw new Error(`attribute '${name}' of ${this.describe()} is not a list of floats`);
    return a.value;
  }

  attrStrings(name: string): string[] | undefined {
    const a = this.attributes.get(name);
    if (!a) return undefined;
    if (a.type !== AttrType.STRINGS) throw new Error(`attribute '${name}' of ${this.describe()} is not a list of strings`);
    return a.value;
  }

  attrTensor(name: string): Tensor | undefined {
    const a = this.attributes.get(name);
    if (!a) return undefined;
    if (a.type !== AttrType.TENSOR) throw new Error(`attribute '${name}' of ${this.describe()} is not a tensor`);
    return a.value;
  }

  attrGraph(name: string): Graph | undefined {
    const a = this.attributes.get(name);
    if (!a) return undefined;
    if (a.type !== AttrType.GRAPH) throw new Error(`attribute '${name}' of ${this.describe()} is not a graph`);
    return a.value;
  }

  /** The subgraphs held in GRAPH / GRAPHS attributes. */
  subgraphs(): Graph[] {
    const out: Graph[] = [];
    for (const a of this.attributes.values()) {
      if (a.type === AttrType.GRAPH) out.push(a.value);
      else if (a.type === AttrType.GRAPHS) out.push(...a.value);
    }
    return out;
  }

  /** "node 'name' (Op)" for messages. */
  describe(): string {
    const op = this.domain ? `${this.domain}.${this.opType}` : this.opType;
    return this.name ? `node '${this.name}' (${op})` : `a nameless ${op} node`;
  }

  toString(): string {
    return `Node(${this.describe()})`;
  }
}

function removeUse(value: Value, node: Node, index: number): void {
  const i = value.uses.findIndex((u) => u.node === node && u.index === index);
  if (i >= 0) value.uses.splice(i, 1);
}
