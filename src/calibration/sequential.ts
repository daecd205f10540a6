/**
 * The layer-by-layer driver of the data-aware passes (GPTQ, SparseGPT, Wanda, activation-aware SVD):
 * finds the linear layers (MatMul / Gemm with a constant weight), groups them into blocks (a transformer
 * block, a Conv stage), and walks the blocks in graph order. For each block it
 *   1. runs the block on the whole calibration set with observers on its layers' inputs, feeding each
 *      batch's activations into one accumulator per distinct layer input (Hessian X^T X, column norms);
 *   2. calls `onBlock`, where the pass compresses the block's weights (in place, see below);
 *   3. runs the block again, now compressed, so the next block's statistics come from the outputs of the
 *      blocks already compressed (GPTQ section 4 "layer-wise ... sequentially", llm-compressor's
 *      `pipelines/sequential`).
 * The activations crossing the cut in front of the current block (the "frontier": the residual stream,
 * plus anything computed earlier and read later, such as an attention mask) are cached for every batch,
 * so each block runs from its frontier rather than from the model inputs: one forward sweep per block,
 * and peak memory is one cut's activations for the calibration set plus one block's accumulators.
 *
 * Contract for `onBlock`: change weights in place only, through `setWeightMatrix` (or by replacing an
 * initializer's data with an array of the same shape and type). The graph's nodes must stay as they are
 * until the driver returns; write the final format (MatMulNBits, DequantizeLinear, factorised layers)
 * afterwards, as llm-compressor does ("fake quantization" while calibrating, compression at save).
 *
 * Typical use (the Hessian of every layer, block by block):
 * ```ts
 * const { layers } = findLinearLayers(model, { exclude: /head/ });
 * await collectHessians(model, layers, ctx.data, {
 *   onBlock: ({ block, stats }) => {
 *     for (const layer of block.layers) {
 *       const H = stats.get(layer)!.hessian();          // 2 X^T X / n, [K, K]
 *       const W = weightMatrix(layer);                   // [K, N]
 *       setWeightMatrix(layer, solve(W, H));             // the pass's solver
 *     }
 *   },
 * }, ctx);
 * ```
 */
import { sliceAlong } from '../runtime/util/host.js';
import { ModelError } from '../core/errors.js';
import { gemmWeightMatrix, transpose } from '../tensor/linalg.js';
import type { Context } from '../core/logger.js';
import { DataType } from '../core/dtype.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { constantOf, findWeights, promoteConstant, setWeightValues, weightView, type WeightRole } from '../ir/weights.js';
import { nodeDependencies } from '../ir/traversal.js';
import type { Value } from '../ir/value.js';
import type { BackendName } from '../runtime/backend.js';
import { Session } from '../runtime/session.js';
import { RTensor } from '../runtime/value.js';
import type { AccumulatorFactory, ActivationAccumulator, ActivationLayout } from './accumulators/accumulator.js';
import { createHessian, type HessianAccumulator } from './accumulators/hessian.js';

/**
 * A MatMul or Gemm that multiplies an activation by a constant float matrix, or a Conv, which multiplies
 * the patches of its input (tensor/im2col.ts) by its weight seen as a matrix.
 */
export interface LinearLayer {
  /** The node's name (the weight's name for nameless nodes): what reports and --exclude use. */
  name: string;
  node: Node;
  op: 'MatMul' | 'Gemm' | 'Conv';
  /** The constant weight value (an initializer once the driver or `promoteWeights` ran). */
  weight: Value;
  /** The activation the weight multiplies (input 0). */
  input: Value;
  /**
   * Inputs (the reduction length) and outputs of the layer: the weight acts as a [K, N] matrix. A Conv
   * W [M, C/G, *kernel] has N = M and K = (C/G) prod(kernel), the inputs of one group: with G groups,
   * output channel m reads group floor(m / (M/G)) only.
   */
  K: number;
  N: number;
  /** Groups of a Conv (1 otherwise): independent problems, each with its own input statistics. */
  groups: number;
  /** The type the weight is stored in (float32, float16 or bfloat16); the maths runs in float32. */
  dataType: number;
  /** How the activation holds K (Gemm with transA = 1 reads it transposed; a Conv's patches). */
  layout: ActivationLayout;
  /** What the weight does in the network (output head, first Conv...: ir/weights.ts). */
  role: WeightRole;
}

/** A node with a weight-like input that `findLinearLayers` leaves alone, and why. */
export interface SkippedLayer {
  node: Node;
  reason: string;
}

/** Options of findLinearLayers. */
export interface FindLayersOptions {
  /** Layers whose name matches are left out (and listed in `skipped`). */
  exclude?: RegExp;
  /** Op types to take (default MatMul and Gemm; Conv only when asked). */
  ops?: readonly ('MatMul' | 'Gemm' | 'Conv')[];
}

/**
 * Finds the MatMul and Gemm nodes of the main graph whose second input is a constant float matrix
 * (float32, float16 or bfloat16: the weights module, ir/weights.ts, reads them all as float32), in graph
 * order. Nodes inside subgraphs, weights read by more than one node (compressing them for one reader
 * would change the others), non-float or non-2-D weights and excluded names are returned in `skipped`
 * with the reason, so that passes can say what they left alone.
 */
export function findLinearLayers(model: Model, options: FindLayersOptions = {}): { layers: LinearLayer[]; skipped: SkippedLayer[] } {
  const ops = options.ops ?? ['MatMul', 'Gemm'];
  const layers: LinearLayer[] = [];
  const skipped: SkippedLayer[] = [];
  const { sites, skipped: notWeights } = findWeights(model);
  const wanted = (op: string) => op === 'MatMul' || op === 'Gemm' || (op === 'Conv' && ops.includes('Conv'));
  for (const s of notWeights) if (wanted(s.node.opType)) skipped.push({ node: s.node, reason: s.reason });
  for (const s of sites) {
    if (!wanted(s.op)) continue;
    const node = s.node;
    const x = node.input(0);
    if (!x) continue;
    const op = s.op as LinearLayer['op'];
    const w = s.value;
    const name = node.name || w.name;
    const dims = s.tensor.dims;
    if (!(ops as readonly string[]).includes(op)) skipped.push({ node, reason: `${op} is not among the ops this pass compresses` });
    else if (!s.main) skipped.push({ node, reason: 'it sits inside a subgraph (If/Loop/Scan body)' });
    else if (w.uses.length > 1) skipped.push({ node, reason: `its weight '${w.name}' is read by ${w.uses.length} nodes (tied weights)` });
    else if (options.exclude?.test(name)) skipped.push({ node, reason: 'excluded by --exclude' });
    else if (op === 'Conv' && dims.length !== 3 && dims.length !== 4) skipped.push({ node, reason: `a ${dims.length - 2}-D Conv (1-D and 2-D are handled)` });
    else if (op === 'Conv') {
      const group = node.attrInt('group', 1);
      const M = dims[0]!;
      if (group < 1 || M % group !== 0) {
        skipped.push({ node, reason: `its group ${group} does not divide its ${M} output channels` });
        continue;
      }
      const K = dims.slice(1).reduce((a, b) => a * b, 1);
      layers.push({ name, node, op, weight: w, input: x, K, N: M, groups: group, dataType: s.dataType, layout: { K, transposed: false, conv: { node, weightDims: dims.slice(), group } }, role: s.role });
    } else {
      const transA = op === 'Gemm' && node.attrInt('transA', 0) !== 0;
      const K = dims[s.reductionAxis]!;
      const N = dims[s.channelAxis]!;
      layers.push({ name, node, op, weight: w, input: x, K, N, groups: 1, dataType: s.dataType, layout: { K, transposed: transA }, role: s.role });
    }
  }
  // Graph order (skipped ones too), as the walk of each list was.
  const order = new Map<Node, number>();
  model.graph.nodes.forEach((n, i) => order.set(n, i));
  skipped.sort((p, q) => (order.get(p.node) ?? Infinity) - (order.get(q.node) ?? Infinity));
  return { layers, skipped };
}

/** Turns Constant-node weights of `layers` into initializers (same name, same tensor). */
export function promoteWeights(layers: readonly LinearLayer[]): void {
  for (const l of layers) promoteConstant(l.weight);
}

/**
 * The [K, N] matrix a layer multiplies by, as a float32 copy whatever the model stores: MatMul's weight
 * as it is; a Gemm's B transposed when transB = 1 and scaled by alpha; a Conv's W [M, C/G, *kernel] as
 * [K = (C/G) prod(kernel), M] (column m holds output channel m's kernel, in patch order).
 */
export function weightMatrix(layer: LinearLayer): Float32Array {
  const t = constantOf(layer.weight);
  if (!t) throw new ModelError(`the weight '${layer.weight.name}' of ${layer.node.describe()} is no longer a constant`);
  const src = weightView(t);
  if (layer.op === 'Conv') return transpose(src, layer.N, layer.K);
  const alpha = layer.op === 'Gemm' ? layer.node.attrFloat('alpha', 1) : 1;
  const transB = layer.op === 'Gemm' && layer.node.attrInt('transB', 0) !== 0;
  const { data } = gemmWeightMatrix(src, t.dims, transB, alpha);
  return data === src && t.dataType === DataType.FLOAT ? src.slice() : data;
}

/**
 * Writes a [K, N] matrix back into the layer's weight in place (undoing weightMatrix's transpose and
 * alpha, in the weight's own type), so that the next run of the session sees it. The graph is not changed.
 */
export function setWeightMatrix(layer: LinearLayer, w: Float32Array): void {
  const t = constantOf(layer.weight);
  if (!t) throw new ModelError(`the weight '${layer.weight.name}' of ${layer.node.describe()} is no longer a constant`);
  const { K, N } = layer;
  if (w.length !== K * N) throw new RangeError(`${layer.name}: a [${K}, ${N}] weight needs ${K * N} values, got ${w.length}`);
  if (layer.op === 'Conv') return setWeightValues(t, transpose(w, K, N));
  const alpha = layer.op === 'Gemm' ? layer.node.attrFloat('alpha', 1) : 1;
  const transB = layer.op === 'Gemm' && layer.node.attrInt('transB', 0) !== 0;
  const out = transB ? transpose(w, K, N) : w.slice();
  if (alpha !== 1) for (let i = 0; i < out.length; i++) out[i] = out[i]! / alpha;
  setWeightValues(t, out);
}

/** A group of layers compressed together after one statistics sweep. */
export interface LayerBlock {
  name: string;
  layers: LinearLayer[];
}

/**
 * The default block key of a layer name: the path up to its first numbered component, which is how
 * exporters name repeated blocks ('/blocks.0/q/MatMul' -> '/blocks.0', '/model/layers.11/mlp/down_proj/
 * MatMul' -> '/model/layers.11', '/transformer/h.3/attn/c_attn/MatMul' -> '/transformer/h.3'). A number
 * right after an op type ('MatMul.3', a converter's counter) or at the very end ('node_linear_4', the
 * dynamo exporter's counter: a block's number is followed by the path inside it) does not count. Names
 * without one give ''.
 */
export function blockKey(name: string): string {
  const re = /[/.:_]/g;
  let prev = 0;
  let prevSeg = '';
  for (let m = re.exec(name); ; m = re.exec(name)) {
    const end = m ? m.index : name.length;
    const seg = name.slice(prev, end);
    if (!m) return '';
    if (/^\d+$/.test(seg) && prevSeg && !/^(MatMul|Gemm|Conv|Add|Mul|Constant)$/i.test(prevSeg)) return name.slice(0, end);
    if (seg) prevSeg = seg;
    prev = end + 1;
  }
}

/**
 * The module a node was exported from, when the exporter recorded it: torch's dynamo exporter names
 * nodes 'node_linear_4' but writes the module path in the node's metadata ('pkg.torch.onnx.name_scopes',
 * a list whose last entry is the op, or 'namespace', "path: class" segments joined by '/'), e.g.
 * 'model.model.layers.0.self_attn.q_proj'. Undefined without such metadata.
 */
export function moduleScope(node: Node): string | undefined {
  const scopes = node.metadata?.get('pkg.torch.onnx.name_scopes');
  if (scopes) {
    const list = [...scopes.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
    const path = list.length >= 2 ? list[list.length - 2] : undefined;
    if (path) return path;
  }
  const ns = node.metadata?.get('namespace');
  if (ns) {
    const parts = ns.split('/').map((p) => p.split(':')[0]!.trim());
    const path = parts.length >= 2 ? parts[parts.length - 2] : undefined;
    if (path) return path;
  }
  return undefined;
}

/**
 * The default block key of a layer: `blockKey` of its node name, or else of the module it was exported
 * from (`moduleScope`), so that a dynamo export's 'node_linear_4' falls in 'model.model.layers.0'.
 */
export function layerBlockKey(layer: LinearLayer): string {
  const byName = blockKey(layer.name);
  if (byName !== '') return byName;
  const scope = moduleScope(layer.node);
  return scope === undefined ? '' : blockKey(scope);
}

/**
 * Groups layers (in graph order) into blocks: consecutive layers with the same key form one block
 * (default key: `layerBlockKey`; layers without a numbered component each get a block of their own, the
 * safe choice, except that a layer reading the same activation as the one before it joins its block:
 * q, k and v projections, or gate and up, share one sweep and one Hessian whatever their names). A key
 * seen again after another block starts a new block.
 */
export function findBlocks(layers: readonly LinearLayer[], key: (layer: LinearLayer) => string = layerBlockKey): LayerBlock[] {
  const blocks: LayerBlock[] = [];
  const seen = new Map<string, number>();
  let current: { key: string; block: LayerBlock } | undefined;
  for (const l of layers) {
    const k = key(l);
    const prev = current?.block.layers[current.block.layers.length - 1];
    if (current && ((k !== '' && k === current.key) || (k === '' && current.key === '' && prev?.input === l.input))) {
      current.block.layers.push(l);
      continue;
    }
    const base = k === '' ? l.name : k;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    current = { key: k, block: { name: n > 1 ? `${base}#${n}` : base, layers: [l] } };
    blocks.push(current.block);
  }
  return blocks;
}

/** What onBlock receives: the block, its statistics, and a way to move the block's progress bar. */
export interface BlockContext<A extends ActivationAccumulator> {
  block: LayerBlock;
  /** 0-based position of the block and the number of blocks. */
  index: number;
  count: number;
  /** The accumulator of each layer (layers reading the same activation share one). */
  stats: Map<LinearLayer, A>;
  /** Advances the block's progress bar by one layer (call once per layer compressed). */
  tick(detail?: string): void;
}

/** Options of runSequential. */
export interface SequentialOptions<A extends ActivationAccumulator> {
  /** Makes the accumulator of one layer input (createHessian, createColumnNorms, ...). */
  accumulator: AccumulatorFactory<A>;
  /**
   * true (default): block by block, each block calibrated on the outputs of the compressed blocks before
   * it. false: one sweep of the float model collects every layer's statistics (one onBlock call with a
   * single block; memory: every layer's accumulator at once).
   */
  sequential?: boolean;
  /** The blocks (each a run of layers in graph order), or a key function for findBlocks. */
  blocks?: LayerBlock[] | ((layer: LinearLayer) => string);
  /** Compresses a block in place (see the file comment). */
  onBlock: (ctx: BlockContext<A>) => void | Promise<void>;
  /**
   * Called once the block's compressed weights have been run (the next block's inputs are computed):
   * the driver never reads them again, so a pass that keeps its results elsewhere can free them here
   * (GPTQ keeps packed codes and reverts the weights to their file).
   */
  afterBlock?: (ctx: Pick<BlockContext<A>, 'block' | 'index' | 'count'>) => void | Promise<void>;
  /**
   * At most this many elements of cut activations per forward run (default 4 M, 16 MB of float32):
   * batches with more are run in parts of whole samples, which bounds the memory of a block's
   * intermediate values (a decoder's attention scores grow with the samples in a run). The statistics
   * are the same sums.
   */
  maxRunElements?: number;
  /** tfjs backend for the forward passes (default auto). */
  backend?: BackendName;
  /** Progress-bar label prefix (default 'calibrate'). */
  label?: string;
}

/** What runSequential measured. */
export interface SequentialSummary {
  blocks: number;
  batches: number;
  /** Calibration samples (first-axis entries of the first input) seen per sweep. */
  samples: number;
  /** Forward runs per sweep (batches split to bound memory: `maxRunElements`). */
  runs: number;
  /** Seconds spent in forward passes and statistics, and in onBlock. */
  forwardSeconds: number;
  compressSeconds: number;
  /**
   * Seconds of each block: statistics sweep, onBlock, and the sweep that computes the next block's
   * inputs, on the wall and on the CPU (every thread of the process: the backend's too).
   */
  perBlock: { name: string; statistics: number; compress: number; propagate: number; cpu: { statistics: number; compress: number; propagate: number } }[];
}

/** CPU seconds of the process so far (all threads). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** The values computed before position `t` of the main graph (or fed) and read by `useful` nodes from t on. */
function frontierAt(graph: Graph, t: number, useful: Set<Node>): Value[] {
  const position = new Map<Node, number>();
  graph.nodes.forEach((n, i) => position.set(n, i));
  const out = new Set<Value>();
  for (let i = t; i < graph.nodes.length; i++) {
    const n = graph.nodes[i]!;
    if (!useful.has(n)) continue;
    for (const v of nodeDependencies(n)) {
      if (v.initializer || v.graph !== graph) continue;
      const p = v.producer;
      if (p && p.opType === 'Constant' && nodeDependencies(p).length === 0) continue;
      if (!p || position.get(p)! < t) out.add(v);
    }
  }
  return [...out];
}

/**
 * Which layers share one statistic: those reading the same value the same way (q, k and v projections;
 * a Conv's patches depend on its kernel, strides, pads and groups too).
 */
function statKey(l: LinearLayer): string {
  const c = l.layout.conv;
  if (!c) return `${l.input.name}\u0000${l.layout.transposed ? 'T' : ''}`;
  const n = c.node;
  const attrs = ['kernel_shape', 'strides', 'dilations', 'pads'].map((a) => (n.attrInts(a) ?? []).join(',')).join(';');
  return `${l.input.name}\u0000conv:${c.weightDims.slice(1).join('x')}:${c.group}:${attrs}:${n.attrString('auto_pad', 'NOTSET')}`;
}

/** The nodes of the main graph that some layer node depends on (and the layer nodes). */
function ancestorsOf(nodes: Node[]): Set<Node> {
  const seen = new Set<Node>();
  const stack = [...nodes];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const v of nodeDependencies(n)) if (v.producer && v.producer.graph === n.graph) stack.push(v.producer);
  }
  return seen;
}

/**
 * The activations at the first cut (`names`) for every batch, each batch run in parts of whole samples
 * so that a part's cut activations stay under `maxElements` (measured on one sample of the first batch).
 * Batches whose inputs do not all share their first axis run whole.
 */
function firstFrontier(session: Session, batches: Record<string, RTensor>[], names: string[], maxElements: number): Map<string, RTensor>[] {
  const out: Map<string, RTensor>[] = [];
  let perSample: number | undefined;
  for (const feeds of batches) {
    const n = commonFirstAxis(feeds);
    if (n === undefined || n < 2) {
      out.push(session.runSync(feeds, { outputs: names }));
      continue;
    }
    if (perSample === undefined) {
      const one = sliceSamples(feeds, 0, 1);
      const probe = session.runSync(one, { outputs: names });
      perSample = [...probe.values()].reduce((a, t) => a + t.size, 0);
      disposeAll(probe);
      for (const t of Object.values(one)) t.dispose();
    }
    const step = Math.max(1, Math.min(n, Math.floor(maxElements / Math.max(1, perSample))));
    if (step >= n) {
      out.push(session.runSync(feeds, { outputs: names }));
      continue;
    }
    for (let s = 0; s < n; s += step) {
      const part = sliceSamples(feeds, s, Math.min(step, n - s));
      out.push(session.runSync(part, { outputs: names }));
      for (const t of Object.values(part)) t.dispose();
    }
  }
  return out;
}

/** The length of the first axis every feed shares, or undefined. */
function commonFirstAxis(feeds: Record<string, RTensor>): number | undefined {
  let n: number | undefined;
  for (const t of Object.values(feeds)) {
    const d = t.dims[0];
    if (d === undefined || (n !== undefined && d !== n)) return undefined;
    n = d;
  }
  return n;
}

/** Samples [start, start + count) of every feed (copies on the host). */
function sliceSamples(feeds: Record<string, RTensor>, start: number, count: number): Record<string, RTensor> {
  const out: Record<string, RTensor> = {};
  for (const [name, t] of Object.entries(feeds)) out[name] = sliceAlong(t, 0, start, count, true);
  return out;
}

function disposeAll(m: Map<string, RTensor>): void {
  for (const t of m.values()) t.dispose();
}

/**
 * Runs the block-by-block calibration described in the file comment over `data` (re-iterable batches
 * of model-input feeds, as PassContext.data), calling `onBlock` once per block with each layer's
 * accumulator. The accumulators are disposed after onBlock returns. Throws ModelError when a layer is not
 * in the main graph or onBlock changed the graph's nodes.
 */
export async function runSequential<A extends ActivationAccumulator>(
  model: Model,
  layers: readonly LinearLayer[],
  data: Iterable<Record<string, RTensor>>,
  options: SequentialOptions<A>,
  ctx: Context,
): Promise<SequentialSummary> {
  const graph = model.graph;
  promoteWeights(layers);
  for (const l of layers) if (l.node.graph !== graph) throw new ModelError(`${l.node.describe()} is not in the main graph; the sequential driver handles main-graph layers only`);
  const blocks = options.sequential === false ? [{ name: 'all layers', layers: [...layers] }] : Array.isArray(options.blocks) ? options.blocks : findBlocks(layers, options.blocks);
  const summary: SequentialSummary = { blocks: blocks.length, batches: 0, samples: 0, runs: 0, forwardSeconds: 0, compressSeconds: 0, perBlock: [] };
  if (blocks.length === 0) return summary;
  const position = new Map<Node, number>();
  graph.nodes.forEach((n, i) => position.set(n, i));
  const starts = blocks.map((b) => Math.min(...b.layers.map((l) => position.get(l.node)!)));
  for (let b = 1; b < starts.length; b++) {
    if (starts[b]! < starts[b - 1]!) throw new ModelError(`block '${blocks[b]!.name}' starts before block '${blocks[b - 1]!.name}': blocks must follow the graph order`);
  }
  const useful = ancestorsOf(layers.map((l) => l.node));
  const session = await Session.create(model, { backend: options.backend, logger: ctx.logger });
  const t0 = performance.now();

  // The frontier in front of the first block, for every run of samples.
  let names = frontierAt(graph, starts[0]!, useful).map((v) => v.name);
  const batches = [...data];
  summary.batches = batches.length;
  for (const b of batches) {
    const first = Object.values(b)[0];
    summary.samples += first ? (first.dims[0] ?? 1) : 0;
  }
  let frontier: Map<string, RTensor>[];
  try {
    frontier = firstFrontier(session, batches, names, options.maxRunElements ?? 4 * 1024 * 1024);
  } catch (e) {
    session.dispose();
    throw e;
  }
  summary.runs = frontier.length;
  // Nothing computed in front of the first block is needed again (an embedding table, for one).
  session.releaseConstants();
  summary.forwardSeconds += (performance.now() - t0) / 1000;
  const nodeCount = graph.nodes.length;
  const label = options.label ?? 'calibrate';

  try {
    for (let bi = 0; bi < blocks.length; bi++) {
      const block = blocks[bi]!;
      const last = bi === blocks.length - 1;
      const task = ctx.progress.start(`${label} ${block.name} (${bi + 1}/${blocks.length})`, frontier.length * (last ? 1 : 2) + block.layers.length);
      const tf0 = performance.now();
      const c0 = cpuSeconds();
      const times = { name: block.name, statistics: 0, compress: 0, propagate: 0, cpu: { statistics: 0, compress: 0, propagate: 0 } };
      summary.perBlock.push(times);
      // 1. statistics: one accumulator per distinct layer input (and way of reading it: a Conv's patches).
      const byKey = new Map<string, { value: Value; acc: A; layout: ActivationLayout }>();
      const stats = new Map<LinearLayer, A>();
      for (const l of block.layers) {
        const key = statKey(l);
        let entry = byKey.get(key);
        if (!entry) {
          entry = { value: l.input, acc: options.accumulator(l.K), layout: l.layout };
          byKey.set(key, entry);
        }
        stats.set(l, entry.acc);
      }
      const byValue = new Map<Value, { acc: A; layout: ActivationLayout }[]>();
      for (const e of byKey.values()) byValue.set(e.value, [...(byValue.get(e.value) ?? []), e]);
      try {
        // Requesting the layer inputs (not outputs) runs only what the statistics need: an output head's
        // own wide matmul, for one, is never computed while calibrating it.
        const inputs = [...new Set(block.layers.map((l) => l.input.name))];
        for (const feeds of frontier) {
          const outputs = inputs.filter((name) => !feeds.has(name));
          for (const [v, list] of byValue) {
            const fed = feeds.get(v.name);
            if (fed) for (const e of list) e.acc.add(fed, e.layout);
          }
          if (outputs.length === 0) {
            task.tick(1);
            continue;
          }
          const out = session.runSync(feeds, {
            outputs,
            observeFilter: (v) => byValue.has(v),
            observe: (v, t) => {
              for (const e of byValue.get(v)!) e.acc.add(t, e.layout);
            },
          });
          disposeAll(out);
          task.tick(1);
        }
        times.statistics = (performance.now() - tf0) / 1000;
        times.cpu.statistics = cpuSeconds() - c0;
        summary.forwardSeconds += times.statistics;
        // 2. compress the block (in place).
        const tc0 = performance.now();
        const cc0 = cpuSeconds();
        await options.onBlock({ block, index: bi, count: blocks.length, stats, tick: (detail) => task.tick(1, detail) });
        times.compress = (performance.now() - tc0) / 1000;
        times.cpu.compress = cpuSeconds() - cc0;
        summary.compressSeconds += times.compress;
        if (graph.nodes.length !== nodeCount) throw new ModelError(`the pass changed the graph while block '${block.name}' was being calibrated; onBlock may change weights only (write the final format after the driver returns)`);
      } finally {
        for (const e of byKey.values()) e.acc.dispose();
      }
      // 3. propagate: the next block's frontier from the compressed block.
      if (!last) {
        const tp0 = performance.now();
        const cp0 = cpuSeconds();
        // The weights changed in place: convert them again (and give back what reading the others took).
        session.releaseConstants();
        names = frontierAt(graph, starts[bi + 1]!, useful).map((v) => v.name);
        const next: Map<string, RTensor>[] = [];
        for (const feeds of frontier) {
          next.push(session.runSync(feeds, { outputs: names }));
          disposeAll(feeds);
          task.tick(1);
        }
        frontier = next;
        times.propagate = (performance.now() - tp0) / 1000;
        times.cpu.propagate = cpuSeconds() - cp0;
        summary.forwardSeconds += times.propagate;
      }
      // The block is done: nothing the session converted for it is needed again.
      session.releaseConstants();
      await options.afterBlock?.({ block, index: bi, count: blocks.length });
      task.done();
    }
  } finally {
    for (const f of frontier) disposeAll(f);
    session.dispose();
  }
  return summary;
}

/** Options of collectHessians: runSequential's, with the Hessian as the statistic. */
export type HessianOptions = Omit<SequentialOptions<HessianAccumulator>, 'accumulator'>;

/**
 * The Hessians H = 2 X^T X / n of every layer, block by block (see runSequential): GPTQ, SparseGPT and
 * activation-aware SVD all start here. `onBlock` gets each layer's HessianAccumulator (`.hessian()`,
 * `.gram()`, `.samples`).
 */
export function collectHessians(
  model: Model,
  layers: readonly LinearLayer[],
  data: Iterable<Record<string, RTensor>>,
  options: HessianOptions,
  ctx: Context,
): Promise<SequentialSummary> {
  return runSequential(model, layers, data, { ...options, accumulator: createHessian }, ctx);
}
