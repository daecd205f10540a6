/**
 * Orders and checks graphs. Real models are not always topologically sorted; passes and the runtime
 * rely on `topologicalSort` having run (onnx/load calls it).
 */
import { ModelError } from '../core/errors.js';
import type { Graph } from './graph.js';
import type { Node } from './node.js';
import type { Value } from './value.js';

/** Values a node reads, including the outer-scope values its subgraphs read (implicit inputs). */
export function nodeDependencies(node: Node): Value[] {
  const deps: Value[] = [];
  for (const v of node.inputs) if (v) deps.push(v);
  for (const sg of node.subgraphs()) {
    for (const g of sg.allGraphs()) {
      for (const n of g.nodes) {
        for (const v of n.inputs) {
          if (v && !isDefinedWithin(v.graph, sg)) deps.push(v);
        }
      }
      for (const v of g.outputs) if (!isDefinedWithin(v.graph, sg)) deps.push(v);
    }
  }
  return deps;
}

function isDefinedWithin(scope: Graph, sub: Graph): boolean {
  for (let g: Graph | undefined = scope; g; g = g.outer) if (g === sub) return true;
  return false;
}

/**
 * Reorders `graph.nodes` (and recursively each subgraph's) so every node comes after the producers of
 * what it reads. Stable: nodes already in order keep their relative order. Throws on a cycle.
 */
export function topologicalSort(graph: Graph): void {
  const nodes = graph.nodes;
  const position = new Map<Node, number>(nodes.map((n, i) => [n, i]));
  const indegree = new Map<Node, number>();
  const dependents = new Map<Node, Node[]>();
  for (const n of nodes) {
    let d = 0;
    for (const v of nodeDependencies(n)) {
      const p = producerIn(v, graph);
      if (p && p !== n) {
        d++;
        const list = dependents.get(p) ?? [];
        list.push(n);
        dependents.set(p, list);
      }
    }
    indegree.set(n, d);
  }
  // A min-heap on original position would be ideal; a sorted ready list is fine at model sizes.
  const ready: Node[] = nodes.filter((n) => indegree.get(n) === 0);
  const out: Node[] = [];
  while (ready.length > 0) {
    let best = 0;
    for (let i = 1; i < ready.length; i++) if (position.get(ready[i]!)! < position.get(ready[best]!)!) best = i;
    const n = ready.splice(best, 1)[0]!;
    out.push(n);
    for (const m of dependents.get(n) ?? []) {
      const d = indegree.get(m)! - 1;
      indegree.set(m, d);
      if (d === 0) ready.push(m);
    }
  }
  if (out.length !== nodes.length) {
    const stuck = nodes.filter((n) => !out.includes(n)).slice(0, 3);
    throw new ModelError(`graph '${graph.name}' has a cycle through ${stuck.map((n) => n.describe()).join(', ')}`);
  }
  nodes.splice(0, nodes.length, ...out);
  for (const n of nodes) for (const sg of n.subgraphs()) topologicalSort(sg);
}

/** The node of `graph` (not of a subgraph) producing `v`, or of the nearest enclosing node in `graph`. */
function producerIn(v: Value, graph: Graph): Node | null {
  const p = v.producer;
  if (!p) return null;
  let n: Node | null = p;
  while (n && n.graph !== graph) {
    const g: Graph = n.graph;
    n = g.outer ? findOwner(g) : null;
  }
  return n;
}

/** The node whose attribute holds subgraph `g`. */
function findOwner(g: Graph): Node | null {
  const outer = g.outer;
  if (!outer) return null;
  for (const n of outer.nodes) if (n.subgraphs().includes(g)) return n;
  return null;
}

/** One problem found by `validateGraph`. */
export interface GraphIssue {
  message: string;
}

/**
 * Checks structure: each value produced once, every input defined (graph input, initializer, earlier
 * node output, or outer scope), graph outputs defined, links consistent, nodes in topological order.
 * Returns the problems (empty when valid); recurse into subgraphs.
 */
export function validateGraph(graph: Graph): GraphIssue[] {
  const issues: GraphIssue[] = [];
  const defined = new Set<Value>();
  const visible = (v: Value): boolean => {
    if (defined.has(v)) return true;
    return v.graph !== graph && isDefinedWithin(graph, v.graph) ? true : false;
  };
  for (const v of graph.inputs) defined.add(v);
  for (const v of graph.initializers) defined.add(v);
  for (const v of graph.sparseInitializers) defined.add(v);
  const produced = new Set<Value>();
  for (const n of graph.nodes) {
    n.inputs.forEach((v, i) => {
      if (!v) return;
      if (!visible(v)) issues.push({ message: `${n.describe()} reads '${v.name}' (input ${i}) before it is defined` });
      if (!v.uses.some((u) => u.node === n && u.index === i)) issues.push({ message: `'${v.name}' does not record its use by ${n.describe()}` });
    });
    for (const d of nodeDependencies(n).slice(n.inputs.filter((v) => v).length)) {
      if (d.graph === graph && !defined.has(d)) issues.push({ message: `a subgraph of ${n.describe()} reads '${d.name}' before it is defined` });
    }
    for (const sg of n.subgraphs()) {
      if (sg.outer !== graph) issues.push({ message: `a subgraph of ${n.describe()} does not name its outer graph` });
      issues.push(...validateGraph(sg));
    }
    n.outputs.forEach((v, i) => {
      if (!v) return;
      if (produced.has(v) || defined.has(v)) issues.push({ message: `'${v.name}' is produced twice (again by ${n.describe()})` });
      if (v.producer !== n || v.producerIndex !== i) issues.push({ message: `'${v.name}' does not name ${n.describe()} as its producer` });
      produced.add(v);
      defined.add(v);
    });
  }
  for (const v of graph.outputs) {
    if (!visible(v)) issues.push({ message: `graph output '${v.name}' is not produced by any node, input or initializer` });
  }
  return issues;
}

/** Throws a ModelError listing the problems, if any. */
export function assertValid(graph: Graph): void {
  const issues = validateGraph(graph);
  if (issues.length > 0) {
    const shown = issues.slice(0, 5).map((i) => i.message).join('; ');
    throw new ModelError(`invalid graph '${graph.name}': ${shown}${issues.length > 5 ? ` (and ${issues.length - 5} more)` : ''}`);
  }
}
