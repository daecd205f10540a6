/**
 * The executor: runs an IR model on TensorFlow.js kernels. One per model; every pass uses it for
 * calibration, statistics, evaluation and training.
 *
 * A run computes only the nodes needed for the requested values from the given feeds (feeds may be any
 * value, not only graph inputs, so a pass can run one block at a time), calls `observe` on produced values
 * and disposes each intermediate after its last consumer, so memory is bounded by the live frontier.
 */
import { ModelError, CompressError } from '../core/errors.js';
import { DataType, dataTypeName } from '../core/dtype.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import type { Graph } from '../ir/graph.js';
import type { LocalFunction, Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { nodeDependencies } from '../ir/traversal.js';
import type { Value } from '../ir/value.js';
import { isWeightFloatType, setWeightValues, weightValues } from '../ir/weights.js';
import { initBackend, tf, type BackendInfo, type BackendName } from './backend.js';
import { alias, type Kernel, type KernelContext } from './kernel.js';
import { planFusions, type ChainLink, type Epilogue, type FusedActivation, type Fusion, type ResolvedStep, type StepKind } from './fusion.js';
import { findKernel } from './registry.js';
import { perChannel, perColumn } from './util/epilogue.js';
import { RTensor } from './value.js';
import { fromOrtLike, toOrtLike, type OrtLikeTensor } from './feeds.js';

export interface SessionOptions {
  backend?: BackendName;
  logger?: Logger;
  /**
   * Streams the weights: each initializer is converted when a node needs it and dropped again (with the
   * IR tensor's data, when it can be read again from its file) after its last use in the run, and nothing
   * derived from constants is kept across runs. Memory then holds one layer's weights rather than the
   * model's, at the cost of reading them again on every run: for running a model larger than memory once
   * (the reference outputs of a billion-parameter model). Default false.
   */
  streamWeights?: boolean;
  /**
   * With streamWeights: called with each initializer the run is done with, just before its data is
   * released (still in memory), so that a caller can use the one read of a weight for more than the run
   * (quantize hands it to its workers).
   */
  onWeightDone?: (value: Value) => void;
}

export interface RunOptions {
  /** Value names to return; default: the graph outputs. */
  outputs?: string[];
  /** Called for each value produced (that passes `observeFilter`), before it may be disposed. */
  observe?: (value: Value, tensor: RTensor, node: Node) => void;
  observeFilter?: (value: Value) => boolean;
  /** Training forward pass: nothing is disposed early (the gradient tape needs it). */
  training?: boolean;
  /**
   * Called after each node of the main graph has run, with its outputs (for timing: bench/profile.ts;
   * do not keep them). Unlike `observe`, it leaves fusions on: a conv that computed the ops after it
   * (runtime/fusion.ts) is reported with `absorbed`, the nodes it stood for, which are not reported
   * themselves, and its output is theirs.
   */
  afterNode?: (node: Node, outputs: readonly (RTensor | null)[], absorbed?: readonly Node[]) => void;
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
  nodeSet: Set<Node>;
  /** How many planned nodes depend on each value (+1 when it is fetched). */
  useCounts: Map<Value, number>;
}

/** A fusion as it applies to one run: what the kernel gets, and which nodes it stands for. */
interface AppliedFusion {
  epilogue: Epilogue;
  /** The chain's nodes the fused product computes (skipped when the loop reaches them). */
  absorbed: Node[];
  /** The value the fused product produces: the last absorbed node's output. */
  output: Value;
}

export class Session {
  readonly model: Model;
  readonly backend: BackendInfo;
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
  /** The divisor of a fused HardSwish, y * relu6(y + 3) / 6. */
  private readonly six = RTensor.fromNumbers(DataType.FLOAT, [], [6]);
  private foldable?: Set<Node>;
  /** Epilogue candidates (runtime/fusion.ts), found on first use; reset with the folded constants. */
  private fusions?: Map<Node, Fusion>;
  /** What fused kernels derived from constants (folded weights and biases), by fusion and key. */
  private readonly fusedConstants = new Map<string, tf.Tensor>();

  private readonly streaming: boolean;
  private readonly onWeightDone?: (value: Value) => void;

  private constructor(model: Model, backend: BackendInfo, streaming: boolean, onWeightDone?: (value: Value) => void) {
    this.model = model;
    this.backend = backend;
    this.streaming = streaming;
    this.onWeightDone = onWeightDone;
  }

  /**
   * Prepares a model for execution: selects the backend and resolves a kernel for every node (also in
   * subgraphs); throws one ModelError listing every unsupported (domain, op, opset) with its nodes.
   */
  static async create(model: Model, options: SessionOptions = {}): Promise<Session> {
    const logger = options.logger ?? silentLogger;
    const backend = await initBackend(options.backend ?? 'auto', logger);
    const s = new Session(model, backend, options.streamWeights ?? false, options.onWeightDone);
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
      if (!isWeightFloatType(v.initializer.dataType)) throw new ModelError(`initializer '${name}' is ${dataTypeName(v.initializer.dataType)}; only float32, float16 and bfloat16 can be trained`);
      let variable = this.variables.get(v);
      if (!variable) {
        this.clearFolded();
        const old = this.constants.get(v);
        old?.dispose();
        this.constants.delete(v);
        // No name: tfjs registers variables globally by name, and two sessions may train the same model.
        // Float32 master weights whatever the stored type (float16 / bfloat16 decoded), rounded back on commit.
        variable = tf.variable(tf.tensor(weightValues(v.initializer), v.initializer.dims, 'float32'), true);
        this.variables.set(v, variable);
      }
      out.set(name, variable);
    }
    return out;
  }

  /** Copies trained variable values back into the IR initializers, each in its own float type. */
  commitVariables(): void {
    for (const [v, variable] of this.variables) {
      setWeightValues(v.initializer!, variable.dataSync().slice() as Float32Array);
    }
  }

  /** Nodes of the main graph whose inputs are all constants (and not trainable). */
  private foldableNodes(): Set<Node> {
    if (this.foldable) return this.foldable;
    const set = new Set<Node>();
    this.foldable = set;
    // Streaming keeps nothing across runs: constant-only nodes run as any other.
    if (this.streaming) return set;
    const constant = (v: Value | null): boolean => !v || this.isConstantValue(v);
    for (const n of this.model.graph.nodes) {
      if (typeof this.kernels.get(n) !== 'function' || n.subgraphs().length > 0 || nondeterministic.has(n.opType)) continue;
      if (n.inputs.every(constant)) set.add(n);
    }
    return set;
  }

  /** True for an initializer that is not trained, or the output of a foldable node (main graph). */
  private isConstantValue(v: Value): boolean {
    if (v.initializer !== undefined) return !this.variables.has(v);
    return v.producer !== null && this.foldableNodes().has(v.producer);
  }

  private epilogueFusions(): Map<Node, Fusion> {
    // Fused epilogues keep folded weights across runs: not while streaming.
    if (this.streaming) this.fusions ??= new Map();
    this.fusions ??= planFusions(this.model.graph, (v) => this.isConstantValue(v), (n) => typeof this.kernels.get(n) === 'function');
    return this.fusions;
  }

  /**
   * The part of `fusion`'s chain that applies to this run, or undefined: only intermediate values no one
   * else sees (read only inside the chain, by planned nodes; not fetched, fed or observed), only
   * per-channel or scalar operands of a 2-D conv or of a product with a 2-D weight, only activations
   * with the bounds the fused forms have.
   */
  private resolveFusion(fusion: Fusion, plan: Plan, keep: Set<Value>, env: Env, options: RunOptions): AppliedFusion | undefined {
    const head = fusion.head;
    const x = head.input(0);
    const xt = x ? (env.get(x) ?? this.folded.get(x)) : undefined;
    const w = this.constantValue(head.input(1)!, env);
    if (!xt || !w || xt.dataType !== DataType.FLOAT || w.dataType !== DataType.FLOAT) return undefined;
    let fits: (o: RTensor, kind: StepKind) => boolean;
    if (head.opType === 'Conv') {
      if (xt.rank !== 4 || w.rank !== 4) return undefined;
      fits = (o, kind) => perChannel(o, w.dims[0]!, kind);
    } else {
      if (xt.rank < 2 || w.rank !== 2) return undefined;
      fits = (o, kind) => perColumn(o, w.dims[1]!, xt.rank, kind);
    }
    const hidden = (v: Value | null, uses = 1) => !!v && !keep.has(v) && plan.useCounts.get(v) === uses && !(options.observe && (!options.observeFilter || options.observeFilter(v)));
    const steps: ResolvedStep[] = [];
    const post: ResolvedStep[] = [];
    let activation: FusedActivation | undefined;
    const absorbed: Node[] = [];
    let v = head.output(0);
    for (const link of fusion.chain) {
      const multi = link.nodes.length > 1;
      if (!hidden(v, multi ? 2 : 1) || !link.nodes.every((n) => plan.nodeSet.has(n))) break;
      if (multi && !link.nodes.slice(0, -1).every((n) => hidden(n.output(0)))) break;
      if (link.step) {
        const kind = link.step.kind;
        const operands = link.step.operands.map((o) => this.constantValue(o, env));
        if (!operands.every((o): o is RTensor => o !== undefined && o.dataType === DataType.FLOAT && fits(o, kind))) break;
        (activation ? post : steps).push({ kind, operands, epsilon: link.step.epsilon });
      } else {
        const act = this.fusedActivation(link, v!, env);
        if (!act) break;
        activation = act.activation;
        if (act.post) post.push(act.post);
      }
      absorbed.push(...link.nodes);
      v = link.nodes[link.nodes.length - 1]!.output(0);
    }
    if (absorbed.length === 0 || !v) return undefined;
    // Folded weights and vectors are kept per chain prefix (the same fusion may stop earlier in a run
    // that observes more), until the session drops its constants.
    const prefix = `${fusion.id}.${absorbed.length}:`;
    const cache = (key: string, make: () => tf.Tensor): tf.Tensor => {
      let t = this.fusedConstants.get(prefix + key);
      if (!t) {
        t = tf.keep(tf.tidy(make));
        this.fusedConstants.set(prefix + key, t);
      }
      return t;
    };
    return { epilogue: { steps, activation, post, cache }, absorbed, output: v };
  }

  /**
   * The activation a chain link fuses as, if it has a fused form: Relu, LeakyRelu, Clip to [0, 6] or
   * [0, inf), HardSwish (y * relu6(y + 3), then a division by 6), or its decomposed form
   * y * Clip(y + k, 0, 6).
   */
  private fusedActivation(link: ChainLink, v: Value, env: Env): { activation: FusedActivation; post?: ResolvedStep } | undefined {
    const n = link.nodes[link.nodes.length - 1]!;
    switch (link.activation) {
      case 'Relu':
        return { activation: { kind: 'relu' } };
      case 'LeakyRelu':
        return { activation: { kind: 'leakyrelu', alpha: n.attrFloat('alpha', 0.01)! } };
      case 'HardSwish':
        return { activation: { kind: 'hardswish', shift: 3 }, post: { kind: 'div', operands: [this.six] } };
      case 'Clip': {
        const b = this.clipBounds(n, env);
        if (!b || b[0] !== 0) return undefined;
        if (b[1] === Infinity) return { activation: { kind: 'relu' } };
        return b[1] === 6 ? { activation: { kind: 'relu6' } } : undefined;
      }
      case 'ClipHardSwish': {
        const [add, clip] = link.nodes as [Node, Node];
        const k = this.constantValue((add.input(0) === v ? add.input(1) : add.input(0))!, env);
        const b = this.clipBounds(clip, env);
        // A one-element k of rank > 1 could raise the output's rank by broadcasting: only scalars and [1].
        if (!k || k.size !== 1 || k.rank > 1 || k.dataType !== DataType.FLOAT || !b || b[0] !== 0 || b[1] !== 6) return undefined;
        return { activation: { kind: 'hardswish', shift: k.float32()[0]! } };
      }
      default:
        return undefined;
    }
  }

  /** A Clip's constant bounds (attributes before opset 11, optional scalar inputs after), or undefined. */
  private clipBounds(n: Node, env: Env): [number, number] | undefined {
    if ((this.model.opset(n.domain) ?? 1) < 11) return [n.attrFloat('min', -Infinity)!, n.attrFloat('max', Infinity)!];
    const bound = (i: number, dflt: number): number | undefined => {
      const b = n.input(i);
      if (!b) return dflt;
      const t = this.constantValue(b, env);
      return t && t.size === 1 && t.dataType === DataType.FLOAT ? t.float32()[0]! : undefined;
    };
    const lo = bound(1, -Infinity);
    const hi = bound(2, Infinity);
    return lo === undefined || hi === undefined ? undefined : [lo, hi];
  }

  /**
   * The tensor of a constant value (an initializer not trained, or a foldable node's output, computed now
   * if this run has not reached it yet), or undefined.
   */
  private constantValue(v: Value, env: Env): RTensor | undefined {
    if (!this.isConstantValue(v)) return undefined;
    if (v.initializer) return this.constant(v);
    const p = v.producer!;
    if (!this.folded.has(v)) {
      for (const d of p.inputs) if (d && !d.initializer) this.constantValue(d, env);
      this.computeFolded(p, env);
    }
    return this.folded.get(v);
  }

  private clearFolded(): void {
    for (const r of this.folded.values()) {
      r.owned = true;
      r.dispose();
    }
    this.folded.clear();
    this.foldable = undefined;
    this.fusions = undefined;
    for (const t of this.fusedConstants.values()) t.dispose();
    this.fusedConstants.clear();
  }

  /**
   * Drops the kept tensors of these initializers (all of them by default) and gives back the memory of
   * their IR data where it can be read again from its file: a pass that walks a model block by block
   * calls it when it is done with a block. The next run converts them again.
   */
  releaseConstants(values?: Iterable<Value>): void {
    const list = values ? [...values] : [...this.constants.keys()];
    let any = false;
    for (const v of list) {
      const r = this.constants.get(v);
      if (r) {
        if (this.isVariableTensor(r)) continue;
        r.owned = true;
        r.dispose();
        this.constants.delete(v);
        any = true;
      }
      v.initializer?.release();
    }
    if (any) this.clearFolded();
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
    this.six.dispose();
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
    const plan: Plan = { nodes, nodeSet: needed, useCounts: countUses(nodes, wanted) };
    this.plans.set(key, plan);
    return plan;
  }

  private execute(graph: Graph, plan: Plan, env: Env, keep: Set<Value>, options: RunOptions): void {
    const remaining = new Map(plan.useCounts);
    const training = options.training ?? false;
    const streaming = this.streaming && !training;
    const release = (v: Value) => {
      const c = remaining.get(v);
      if (c === undefined) return;
      if (c <= 1) {
        remaining.delete(v);
        if (streaming && v.initializer && !keep.has(v)) {
          if (v.initializer.loaded) this.onWeightDone?.(v);
          this.releaseConstants([v]);
          return;
        }
        const t = env.map.get(v);
        if (t && !keep.has(v) && !training) {
          t.dispose();
          env.map.delete(v);
        }
      } else remaining.set(v, c - 1);
    };
    const main = graph === this.model.graph;
    const foldable = main ? this.foldableNodes() : undefined;
    const fusions = main && !training ? this.epilogueFusions() : undefined;
    /** Nodes a fused product computed already. */
    const absorbed = new Set<Node>();
    for (const node of plan.nodes) {
      if (absorbed.has(node)) {
        for (const d of nodeDependencies(node)) release(d);
        continue;
      }
      if (foldable?.has(node)) {
        this.runFolded(node, env, options);
        for (const d of nodeDependencies(node)) release(d);
        if (main) options.afterNode?.(node, node.outputs.map((v) => (v ? (this.folded.get(v) ?? null) : null)));
        continue;
      }
      const fusion = fusions?.get(node);
      const fused = fusion ? this.resolveFusion(fusion, plan, keep, env, options) : undefined;
      const inputs = node.inputs.map((v) => (v ? this.lookup(v, env, node) : null));
      let outputs: (RTensor | null)[];
      try {
        outputs = this.runNode(node, inputs, env, training, fused?.epilogue);
      } catch (e) {
        throw wrapNodeError(e, node);
      }
      // A fused product's result is its chain's last value, made (for observers) by the chain's last node.
      const results = fused ? [fused.output] : node.outputs;
      const producer = fused ? fused.absorbed[fused.absorbed.length - 1]! : node;
      if (fused) for (const n of fused.absorbed) absorbed.add(n);
      results.forEach((v, i) => {
        const t = outputs[i];
        if (!v) {
          t?.dispose();
          return;
        }
        if (!t) {
          return;
        }
        env.map.set(v, t);
        if (options.observe && (!options.observeFilter || options.observeFilter(v))) options.observe(v, t, producer);
        if (!remaining.has(v) && !keep.has(v) && !training) {
          t.dispose();
          env.map.delete(v);
        }
      });
      for (const d of nodeDependencies(node)) release(d);
      if (main) options.afterNode?.(node, outputs, fused?.absorbed);
    }
  }

  /** Runs a constant-only node once per session and keeps its outputs. */
  private runFolded(node: Node, env: Env, options: RunOptions): void {
    const outs = node.outputs.filter((v): v is Value => v !== null);
    this.computeFolded(node, env);
    if (options.observe) {
      for (const v of outs) {
        const t = this.folded.get(v);
        if (t && (!options.observeFilter || options.observeFilter(v))) options.observe(v, t, node);
      }
    }
  }

  /** Computes a constant-only node's outputs unless kept already (no observers: runFolded calls them). */
  private computeFolded(node: Node, env: Env): void {
    if (node.outputs.every((v) => !v || this.folded.has(v))) return;
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
      t.keep();
      t.owned = false;
      this.folded.set(v, t);
    });
  }

  private lookup(v: Value, env: Env, node: Node): RTensor {
    const t = env.get(v) ?? this.folded.get(v);
    if (t) return t;
    if (v.initializer) return this.constant(v);
    throw new ModelError(`${node.describe()} reads '${v.name}', which has no value`, v.isGraphInput ? `feed the model input '${v.name}'` : undefined);
  }

  private runNode(node: Node, inputs: (RTensor | null)[], env: Env, training: boolean, epilogue?: Epilogue): (RTensor | null)[] {
    const k = this.kernels.get(node);
    if (!k) throw new ModelError(`no kernel for ${node.describe()}`);
    if (typeof k !== 'function') return this.runFunction(k, node, inputs, env, training);
    const opset = this.model.opset(node.domain) ?? 1;
    const ctx: KernelContext = {
      node,
      opset,
      training,
      epilogue,
      streaming: this.streaming,
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
    const plan: Plan = { nodes: g.nodes, nodeSet: new Set(g.nodes), useCounts: countUses(g.nodes, g.outputs) };
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

