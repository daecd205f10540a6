/**
 * The executor: runs an IR model on TensorFlow.js kernels. One per model; every pass uses it for
 * calibration, statistics, evaluation and training.
 *
 * A run computes only the nodes needed for the requested values from the given feeds (feeds may be any
 * value, not only graph inputs, so a pass can run one block at a time), calls `observe` on produced values
 * and disposes each intermediate after its last consumer, so memory is bounded by the live frontier.
 */
import { ModelError, CompressError } from '../core/errors.js';
import { dataTypeName } from '../core/dtype.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import type { Graph } from '../ir/graph.js';
import type { LocalFunction, Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { nodeDependencies } from '../ir/traversal.js';
import type { Value } from '../ir/value.js';
import { initBackend, tf, type BackendInfo, type BackendName } from './backend.js';
import { alias, type Kernel, type KernelContext } from './kernel.js';
import { findKernel } from './registry.js';
import { RTensor } from './value.js';
import { fromOrtLike, toOrtLike, type OrtLikeTensor } from './feeds.js';

export interface SessionOptions {
  backend?: BackendName;
  logger?: Logger;
}

export interface RunOptions {
  /** Value names to return; default: the graph outputs. */
  outputs?: string[];
  /** Called for each value produced (that passes `observeFilter`), before it may be disposed. */
  observe?: (value: Value, tensor: RTensor, node: Node) => void;
  observeFilter?: (value: Value) => boolean;
  /** Training forward pass: nothing is disposed early (the gradient tape needs it). */
  training?: boolean;
}

/** A value's environment in one (sub)graph execution, chained to the enclosing scope's. */
class Env {
  readonly map = new Map<Value, RTensor>();
  constructor(readonly parent?: Env) {}
  get(v: Value): RTensor | undefined {
    for (let e: Env | undefined = this; e; e = e.parent) {
      const t = e.map.get(v);
      if (t) return t;
    }
    return undefined;
  }
}

interface Plan {
  nodes: Node[];
  /** How many planned nodes depend on each value (+1 when it is fetched). */
  useCounts: Map<Value, number>;
}

export class Session {
  readonly model: Model;
  readonly backend: BackendInfo;
  private readonly logger: Logger;
  private readonly kernels = new Map<Node, Kernel | LocalFunction>();
  private readonly constants = new Map<Value, RTensor>();
  private readonly variables = new Map<Value, tf.Variable>();
  private readonly plans = new Map<string, Plan>();
  /**
   * Outputs of main-graph nodes that depend on constants only (Constant nodes, shape arithmetic on
   * weights, weights transposed or dequantized by the graph): computed on first use and kept across runs,
   * as onnxruntime's constant folding would. Real models need it: ppocr-rec-v4 holds 325 weights in
   * Constant nodes.
   */
  private readonly folded = new Map<Value, RTensor>();
  private foldable?: Set<Node>;

  private constructor(model: Model, backend: BackendInfo, logger: Logger) {
    this.model = model;
    this.backend = backend;
    this.logger = logger;
  }

  /**
   * Prepares a model for execution: selects the backend and resolves a kernel for every node (also in
   * subgraphs); throws one ModelError listing every unsupported (domain, op, opset) with its nodes.
   */
  static async create(model: Model, options: SessionOptions = {}): Promise<Session> {
    const logger = options.logger ?? silentLogger;
    const backend = await initBackend(options.backend ?? 'auto', logger);
    const s = new Session(model, backend, logger);
    s.resolveKernels();
    return s;
  }

  private resolveKernels(): void {
    const missing = new Map<string, string[]>();
    const visit = (g: Graph, opsetOf: (domain: string) => number | undefined) => {
      for (const n of g.nodes) {
        const fn = this.model.functions.find((f) => f.name === n.opType && f.domain === n.domain && (f.overload ?? '') === (n.overload ?? ''));
        if (fn) {
          this.kernels.set(n, fn);
          const fnOpset = (d: string) => fn.opsetImports.find((o) => (o.domain === 'ai.onnx' ? '' : o.domain) === d)?.version ?? opsetOf(d);
          visit(fn.body, fnOpset);
          continue;
        }
        const opset = opsetOf(n.domain) ?? (n.domain === '' ? undefined : 1);
        const k = opset === undefined ? undefined : findKernel(n.domain, n.opType, opset);
        if (!k) {
          const key = `${n.domain ? n.domain + '.' : ''}${n.opType} (opset ${opset ?? 'not imported'})`;
          const list = missing.get(key) ?? [];
          list.push(n.name || '(nameless)');
          missing.set(key, list);
        } else {
          this.kernels.set(n, k.run);
        }
        for (const sg of n.subgraphs()) visit(sg, opsetOf);
      }
    };
    visit(this.model.graph, (d) => this.model.opset(d));
    if (missing.size > 0) {
      const parts = [...missing].map(([op, nodes]) => `${op} at ${nodes.slice(0, 3).map((x) => `'${x}'`).join(', ')}${nodes.length > 3 ? ` and ${nodes.length - 3} more` : ''}`);
      throw new ModelError(`unsupported ops: ${parts.join('; ')}`, 'see docs/ops.md for the supported ops and opsets');
    }
  }

  /** Graph input values that are not initializers (what a caller must feed). */
  get inputs(): Value[] {
    return this.model.graph.inputs.filter((v) => !v.initializer);
  }

  get outputs(): Value[] {
    return this.model.graph.outputs;
  }

  /** The kept tensor of an initializer (a tf.Variable when trainable). */
  private constant(v: Value): RTensor {
    let r = this.constants.get(v);
    if (!r) {
      const variable = this.variables.get(v);
      r = variable ? RTensor.fromTf(variable, v.initializer!.dataType) : RTensor.fromIr(v.initializer!);
      r.owned = false;
      this.constants.set(v, r);
    }
    return r;
  }

  /**
   * Makes the named float initializers trainable: each becomes a tf.Variable used by later runs.
   * Returns them by name; `commitVariables` writes their values back into the IR.
   */
  makeTrainable(names: string[]): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const name of names) {
      const v = this.model.graph.value(name);
      if (!v?.initializer) throw new ModelError(`'${name}' is not an initializer of the model`);
      if (v.initializer.dataType !== 1) throw new ModelError(`initializer '${name}' is ${dataTypeName(v.initializer.dataType)}, only FLOAT can be trained`);
      let variable = this.variables.get(v);
      if (!variable) {
        this.clearFolded();
        const old = this.constants.get(v);
        old?.dispose();
        this.constants.delete(v);
        // No name: tfjs registers variables globally by name, and two sessions may train the same model.
        variable = tf.variable(tf.tensor(v.initializer.data as Float32Array, v.initializer.dims, 'float32'), true);
        this.variables.set(v, variable);
      }
      out.set(name, variable);
    }
    return out;
  }

  /** Copies trained variable values back into the IR initializers. */
  commitVariables(): void {
    for (const [v, variable] of this.variables) {
      v.initializer!.data = variable.dataSync().slice() as Float32Array;
    }
  }

  /** Nodes of the main graph whose inputs are all constants (and not trainable). */
  private foldableNodes(): Set<Node> {
    if (this.foldable) return this.foldable;
    const set = new Set<Node>();
    const constant = (v: Value | null): boolean => !v || (v.initializer !== undefined && !this.variables.has(v)) || (v.producer !== null && set.has(v.producer));
    for (const n of this.model.graph.nodes) {
      if (typeof this.kernels.get(n) !== 'function' || n.subgraphs().length > 0 || nondeterministic.has(n.opType)) continue;
      if (n.inputs.every(constant)) set.add(n);
    }
    this.foldable = set;
    return set;
  }

  private clearFolded(): void {
    for (const r of this.folded.values()) {
      r.owned = true;
      r.dispose();
    }
    this.folded.clear();
    this.foldable = undefined;
  }

  /** Forgets cached constants (call after a pass changed initializers in place). */
  invalidateConstants(): void {
    this.clearFolded();
    for (const r of this.constants.values()) {
      r.owned = true;
      if (!(r.onDevice && this.isVariableTensor(r))) r.dispose();
    }
    this.constants.clear();
  }

  private isVariableTensor(r: RTensor): boolean {
    for (const v of this.variables.values()) if (r.tf === v) return true;
    return false;
  }

  /** Releases every kept tensor and variable. */
  dispose(): void {
    this.invalidateConstants();
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
  }

  /** The API form: onnxruntime-shaped tensors in and out. */
  async run(feeds: Record<string, OrtLikeTensor>, options: Omit<RunOptions, 'training'> = {}): Promise<Record<string, OrtLikeTensor>> {
    const rfeeds: Record<string, RTensor> = {};
    for (const [k, t] of Object.entries(feeds)) rfeeds[k] = fromOrtLike(t, k);
    const out = this.runSync(rfeeds, options);
    const result: Record<string, OrtLikeTensor> = {};
    for (const [k, t] of out) {
      result[k] = toOrtLike(t);
      t.dispose();
    }
    for (const t of Object.values(rfeeds)) t.dispose();
    return result;
  }

  /**
   * Runs the graph synchronously. `feeds` may name any value (graph inputs, or intermediate values to
   * start mid-graph). Returns the requested values; the caller owns (and disposes) them. Feeds stay the
   * caller's.
   */
  runSync(feeds: Record<string, RTensor> | Map<string, RTensor>, options: RunOptions = {}): Map<string, RTensor> {
    const graph = this.model.graph;
    const env = new Env();
    const entries = feeds instanceof Map ? [...feeds] : Object.entries(feeds);
    for (const [name, t] of entries) {
      const v = graph.value(name);
      if (!v) throw new ModelError(`the model has no value named '${name}' to feed`, `its inputs are: ${this.inputs.map((i) => i.name).join(', ')}`);
      checkFeed(v, t);
      env.map.set(v, t);
    }
    const fed = new Set(env.map.keys());
    const wanted = (options.outputs ?? graph.outputs.map((v) => v.name)).map((name) => {
      const v = graph.value(name);
      if (!v) throw new ModelError(`the model has no value named '${name}'`);
      return v;
    });
    const plan = this.plan(graph, fed, wanted);
    this.execute(graph, plan, env, fed, options);
    const result = new Map<string, RTensor>();
    for (const v of wanted) {
      const t = env.get(v) ?? this.folded.get(v) ?? (v.initializer ? this.constant(v) : undefined);
      if (!t) throw new ModelError(`value '${v.name}' was not computed`);
      // Hand out fresh handles for kept tensors or feeds so the caller may dispose what it gets.
      result.set(v.name, !t.owned || fed.has(v) ? alias(t) : t);
    }
    return result;
  }

  /** Which nodes produce `wanted` from `fed` (and constants), in graph order, with use counts. */
  private plan(graph: Graph, fed: Set<Value>, wanted: Value[]): Plan {
    const key = [...fed].map((v) => v.name).sort().join('\u0000') + '\u0001' + wanted.map((v) => v.name).join('\u0000');
    const cached = this.plans.get(key);
    if (cached) return cached;
    const needed = new Set<Node>();
    const stack = [...wanted];
    const seen = new Set<Value>();
    while (stack.length > 0) {
      const v = stack.pop()!;
      if (seen.has(v) || fed.has(v)) continue;
      seen.add(v);
      const p = v.producer;
      if (!p || p.graph !== graph) {
        if (!v.initializer && !fed.has(v)) throw new ModelError(`value '${v.name}' is needed but neither fed nor computable`, v.isGraphInput ? `feed the model input '${v.name}'` : undefined);
        continue;
      }
      if (needed.has(p)) continue;
      needed.add(p);
      for (const d of nodeDependencies(p)) if (d.graph === graph || isOuter(d.graph, graph)) stack.push(d);
    }
    const nodes = graph.nodes.filter((n) => needed.has(n));
    const plan: Plan = { nodes, useCounts: countUses(nodes, wanted) };
    this.plans.set(key, plan);
    return plan;
  }

  private execute(graph: Graph, plan: Plan, env: Env, keep: Set<Value>, options: RunOptions): void {
    const remaining = new Map(plan.useCounts);
    const training = options.training ?? false;
    const release = (v: Value) => {
      const c = remaining.get(v);
      if (c === undefined) return;
      if (c <= 1) {
        remaining.delete(v);
        const t = env.map.get(v);
        if (t && !keep.has(v) && !training) {
          t.dispose();
          env.map.delete(v);
        }
      } else remaining.set(v, c - 1);
    };
    const foldable = graph === this.model.graph ? this.foldableNodes() : undefined;
    for (const node of plan.nodes) {
      if (foldable?.has(node)) {
        this.runFolded(node, env, options);
        for (const d of nodeDependencies(node)) release(d);
        continue;
      }
      const inputs = node.inputs.map((v) => (v ? this.lookup(v, env, node) : null));
      let outputs: (RTensor | null)[];
      try {
        outputs = this.runNode(node, inputs, env, training);
      } catch (e) {
        throw wrapNodeError(e, node);
      }
      node.outputs.forEach((v, i) => {
        const t = outputs[i];
        if (!v) {
          t?.dispose();
          return;
        }
        if (!t) {
          return;
        }
        env.map.set(v, t);
        if (options.observe && (!options.observeFilter || options.observeFilter(v))) options.observe(v, t, node);
        if (!remaining.has(v) && !keep.has(v) && !training) {
          t.dispose();
          env.map.delete(v);
        }
      });
      for (const d of nodeDependencies(node)) release(d);
    }
  }

  /** Runs a constant-only node once per session and keeps its outputs. */
  private runFolded(node: Node, env: Env, options: RunOptions): void {
    const outs = node.outputs.filter((v): v is Value => v !== null);
    if (!outs.every((v) => this.folded.has(v))) {
      let outputs: (RTensor | null)[];
      try {
        outputs = this.runNode(node, node.inputs.map((v) => (v ? this.lookup(v, env, node) : null)), env, false);
      } catch (e) {
        throw wrapNodeError(e, node);
      }
      node.outputs.forEach((v, i) => {
        const t = outputs[i];
        if (!t) return;
        if (!v) return t.dispose();
        if (t.onDevice) tf.keep(t.tf);
        t.owned = false;
        this.folded.set(v, t);
      });
    }
    if (options.observe) {
      for (const v of outs) {
        const t = this.folded.get(v);
        if (t && (!options.observeFilter || options.observeFilter(v))) options.observe(v, t, node);
      }
    }
  }

  private lookup(v: Value, env: Env, node: Node): RTensor {
    const t = env.get(v) ?? this.folded.get(v);
    if (t) return t;
    if (v.initializer) return this.constant(v);
    throw new ModelError(`${node.describe()} reads '${v.name}', which has no value`, v.isGraphInput ? `feed the model input '${v.name}'` : undefined);
  }

  private runNode(node: Node, inputs: (RTensor | null)[], env: Env, training: boolean): (RTensor | null)[] {
    const k = this.kernels.get(node);
    if (!k) throw new ModelError(`no kernel for ${node.describe()}`);
    if (typeof k !== 'function') return this.runFunction(k, node, inputs, env, training);
    const opset = this.model.opset(node.domain) ?? 1;
    const ctx: KernelContext = {
      node,
      opset,
      training,
      runSubgraph: (g, subInputs) => this.runSubgraph(g, subInputs, env, training),
    };
    return k(inputs, ctx);
  }

  /** Runs a local function's body with the caller's inputs bound to its formals. */
  private runFunction(fn: LocalFunction, node: Node, inputs: (RTensor | null)[], env: Env, training: boolean): (RTensor | null)[] {
    for (const n of fn.body.allNodes()) {
      for (const a of n.attributes.values()) {
        if (a.refAttrName) throw new ModelError(`${node.describe()} calls function '${fn.name}', whose attribute '${a.name}' refers to a caller attribute: not supported`);
      }
    }
    const present = inputs.map((t) => t!);
    return this.runSubgraph(fn.body, present, env, training);
  }

  private runSubgraph(g: Graph, inputs: RTensor[], outer: Env, training: boolean): RTensor[] {
    const env = new Env(outer);
    g.inputs.forEach((v, i) => {
      const t = inputs[i];
      if (t) env.map.set(v, t);
    });
    const keep = new Set<Value>(g.inputs);
    const plan: Plan = { nodes: g.nodes, useCounts: countUses(g.nodes, g.outputs) };
    this.execute(g, plan, env, keep, { training });
    return g.outputs.map((v) => {
      const t = env.map.get(v);
      if (t && !keep.has(v)) return t;
      // An input passed straight through, an outer value or a constant: a fresh handle for the caller.
      const src = t ?? env.get(v) ?? (v.initializer ? this.constant(v) : undefined);
      if (!src) throw new ModelError(`subgraph '${g.name}' output '${v.name}' has no value`);
      return alias(src);
    });
  }
}

/** Ops whose outputs differ from run to run: never folded. */
const nondeterministic = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);

function isOuter(scope: Graph, g: Graph): boolean {
  for (let x: Graph | undefined = g.outer; x; x = x.outer) if (x === scope) return true;
  return false;
}

function countUses(nodes: Node[], wanted: Value[]): Map<Value, number> {
  const counts = new Map<Value, number>();
  for (const n of nodes) for (const d of nodeDependencies(n)) counts.set(d, (counts.get(d) ?? 0) + 1);
  for (const v of wanted) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

function checkFeed(v: Value, t: RTensor): void {
  const expected = v.elemType;
  if (expected !== undefined && expected !== t.dataType) {
    throw new ModelError(`input '${v.name}' expects ${dataTypeName(expected)}, got ${dataTypeName(t.dataType)}`);
  }
  const shape = v.shape;
  if (shape && !v.initializer) {
    const ok = shape.length === t.dims.length && shape.every((d, i) => typeof d !== 'number' || d === t.dims[i]);
    if (!ok) throw new ModelError(`input '${v.name}' expects shape [${shape.map((d) => d ?? '?').join(',')}], got [${t.dims.join(',')}]`);
  }
}

function wrapNodeError(e: unknown, node: Node): Error {
  const msg = e instanceof Error ? e.message : String(e);
  if (msg.includes(node.describe())) return e as Error;
  if (e instanceof CompressError) {
    const w = new (e.constructor as new (m: string, h?: string) => CompressError)(`${node.describe()}: ${msg}`, e.hint);
    w.stack = e.stack;
    return w;
  }
  // Not one of ours: an internal error (exit 1), with the node named and the original kept as cause.
  return new Error(`while running ${node.describe()}: ${msg}`, { cause: e });
}

