/**
 * Static int8 quantization in QDQ form, placed the way onnxruntime's QDQ quantizer places it
 * (onnxruntime/python/tools/quantization/qdq_quantizer.py and operators/*.py):
 *
 * - weights of Conv, MatMul and Gemm: int8 symmetric per output channel, DequantizeLinear;
 *   Conv/Gemm biases: int32 with scale = input scale x weight scale (what QLinearConv expects);
 * - activations: uint8 asymmetric QuantizeLinear -> DequantizeLinear once per tensor, on the inputs and
 *   output of every quantized op, so that onnxruntime fuses DQ -> op -> Q into its QLinear kernels;
 * - Relu, and Clip from 0, right after a quantized op are removed and their range taken by the op's
 *   output (the uint8 clamp at zero point 0 does what they did: onnxruntime's QDQRemovableActivation);
 * - tensors that must share parameters share them: the inputs and output of Concat, and the two sides
 *   of data-movement ops (Reshape, Flatten, Transpose, Squeeze, Unsqueeze, MaxPool);
 * - nothing is put around ops that are not quantized (shape computations, LayerNorm, Softmax...).
 *
 * Ranges come from calibration: the float model runs on the data batch by batch with observers on the
 * tensors to quantize (statistics only, never the activations of the whole set).
 *
 * A float16 or bfloat16 model stays one: its inputs, outputs and the ops between the pairs keep their
 * type, its weights are int8 with scales of that type (DequantizeLinear-19 takes them; the plan raises the
 * opset), and each activation's Q/DQ pair runs in float32 between two Casts:
 *
 *   x (float16) -> Cast(float32) -> QuantizeLinear -> DequantizeLinear -> Cast(float16) -> readers
 *
 * rather than QuantizeLinear-19 with a float16 scale. Both carry the same uint8 codes; onnxruntime 1.30
 * runs the float32 pair 2.2x faster on the fixtures (its float16 QuantizeLinear is not vectorized), and
 * fuses a float16-scaled Q/DQ around Concat into a QLinearConcat it then refuses to load
 * (docs/quantize.md). Biases stay float in the model's type: with no int8 kernel behind the pairs an int32
 * bias would only add rounding.
 */
import { DataType } from '../../core/dtype.js';
import { NumericsError } from '../../core/errors.js';
import type { Context } from '../../core/logger.js';
import { makeAttr } from '../../ir/attribute.js';
import type { Graph } from '../../ir/graph.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import { Tensor } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';
import type { LayerReport } from '../../report/schema.js';
import { Session } from '../../runtime/session.js';
import { roundHalfEven, scaleZeroPoint, type QuantizedTensor } from '../../tensor/quant.js';
import { createObserver, type RangeObserver } from '../../calibration/observers/index.js';
import type { FeedBatches, QuantizeOptions } from './options.js';
import type { QuantizePlan, WeightDecision } from './plan.js';
import { applyWeightDecision, layerReport } from './weights.js';
import { constantOf, isWeightFloatType, weightView } from '../../ir/weights.js';

/** Which inputs of a quantized op carry activations to quantize. */
function activationInputs(n: Node): number[] {
  switch (n.opType) {
    case 'Conv':
    case 'Gemm':
    case 'MaxPool':
    case 'AveragePool':
    case 'GlobalAveragePool':
      return [0];
    case 'MatMul':
    case 'Add':
    case 'Mul':
      return [0, 1];
    case 'Concat':
      return n.inputs.map((_, i) => i);
    default:
      return [];
  }
}

/** Ops whose output is (a selection or rearrangement of) their input: both sides share parameters. */
const passThrough = new Set(['Reshape', 'Flatten', 'Transpose', 'Squeeze', 'Unsqueeze', 'MaxPool', 'Identity']);

/** True when `n` is a Relu, or a Clip whose lower bound is exactly 0 (ReLU6 and the like). */
function isRemovableActivation(n: Node): boolean {
  if (n.domain !== '') return false;
  if (n.opType === 'Relu') return true;
  if (n.opType !== 'Clip') return false;
  const attrMin = n.attrFloat('min');
  if (attrMin !== undefined) return attrMin === 0;
  const lo = n.input(1)?.initializer;
  return lo !== undefined && lo.size === 1 && isWeightFloatType(lo.dataType) && weightView(lo)[0] === 0;
}

/** Union-find over values, for tensors that must share quantization parameters. */
class Groups {
  private readonly parent = new Map<Value, Value>();
  find(v: Value): Value {
    let p = this.parent.get(v) ?? v;
    if (p !== v) {
      p = this.find(p);
      this.parent.set(v, p);
    }
    return p;
  }
  union(a: Value, b: Value): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(ra, rb);
  }
}

interface Selection {
  nodes: Node[];
  /** Activation tensors to quantize. */
  tensors: Set<Value>;
  /** Relu/Clip to remove: the op's output value -> the activation node after it. */
  fused: Map<Value, Node>;
}

/** The nodes, tensors and fusions of a static plan. */
function select(model: Model, plan: QuantizePlan, options: QuantizeOptions): Selection {
  const g = model.graph;
  const decisionOf = new Map<Node, WeightDecision>();
  for (const d of plan.weights) for (const s of d.sites) decisionOf.set(s.node, d);
  const nodes = g.nodes.filter((n) => {
    if (n.domain !== '' || !options.ops.includes(n.opType)) return false;
    if (options.exclude?.test(n.name)) return false;
    if (n.opType === 'Gather') return false;
    const d = decisionOf.get(n);
    if (d && d.bits === 'float') return false;
    // Conv and Gemm without a constant weight are left float (rare: weights computed at run time).
    if ((n.opType === 'Conv' || n.opType === 'Gemm') && !d) return false;
    // Add and Mul are quantized when they join two activations (residual connections, gates); with a
    // constant operand they are a bias, a normalisation's scale and shift or an epsilon, which stay float
    // (quantizing those costs accuracy for no fused kernel: ppocr-rec-v4 read 12 of 32 lines right with
    // them, 31 without; docs/quantize.md).
    if ((n.opType === 'Add' || n.opType === 'Mul') && n.inputs.some((v) => !v || constantOf(v) !== undefined)) return false;
    return true;
  });
  const tensors = new Set<Value>();
  for (const n of nodes) {
    for (const i of activationInputs(n)) {
      const v = n.input(i);
      if (v && !v.initializer) tensors.add(v);
    }
    const out = n.output(0);
    if (out) tensors.add(out);
  }
  const quantized = new Set(nodes);
  const fused = new Map<Value, Node>();
  for (const n of nodes) {
    const out = n.output(0);
    if (!out || out.isGraphOutput || out.uses.length !== 1) continue;
    const act = out.uses[0]!.node;
    if (!isRemovableActivation(act) || options.exclude?.test(act.name) || quantized.has(act)) continue;
    const actOut = act.output(0);
    if (!actOut || actOut.isGraphOutput) continue;
    fused.set(out, act);
  }
  return { nodes, tensors, fused };
}

/**
 * True when static quantization has any op to put Q/DQ around (before planning weights: an op of --ops
 * in the main graph, not excluded, other than Gather), so that a model with none fails before calibrating.
 */
export function hasStaticOps(model: Model, options: QuantizeOptions): boolean {
  return model.graph.nodes.some((n) => n.domain === '' && n.opType !== 'Gather' && options.ops.includes(n.opType) && !options.exclude?.test(n.name) && activationInputs(n).length > 0);
}

/** Counts the samples in a batch: the leading dimension of its first tensor. */
function batchSamples(batch: Record<string, { dims: number[] }>): number {
  const first = Object.values(batch)[0];
  return first && first.dims.length > 0 ? first.dims[0]! : 1;
}

/**
 * Runs the float model over the calibration data with observers on `watch`; returns the observers of
 * the tensors that turned out to be float (float32, float16 or bfloat16, with that type; others, e.g.
 * int64 shape arithmetic in an Add, are dropped).
 */
async function calibrate(
  model: Model,
  watch: Set<Value>,
  options: QuantizeOptions,
  ctx: Context & { data: FeedBatches },
): Promise<{ observers: Map<Value, RangeObserver>; types: Map<Value, number>; samples: number; batches: number }> {
  const session = await Session.create(model, { backend: options.backend, logger: ctx.logger });
  const observers = new Map<Value, RangeObserver>();
  const types = new Map<Value, number>();
  const notFloat = new Set<Value>();
  const feed = (v: Value, dataType: number, values: () => Float32Array) => {
    if (!isWeightFloatType(dataType)) {
      notFloat.add(v);
      return;
    }
    types.set(v, dataType);
    let o = observers.get(v);
    if (!o) {
      o = createObserver(options.calibration, { percentile: options.percentile });
      observers.set(v, o);
    }
    o.update(values());
  };
  const task = ctx.progress.start(`calibrate (${options.calibration})`, options.samples ?? 0);
  let samples = 0;
  let batches = 0;
  try {
    for await (const batch of ctx.data) {
      for (const [name, t] of Object.entries(batch)) {
        const v = model.graph.value(name);
        if (v && watch.has(v)) feed(v, t.dataType, () => t.float32());
      }
      const outs = session.runSync(batch, {
        observe: (v, t) => feed(v, t.dataType, () => t.float32()),
        observeFilter: (v) => watch.has(v),
      });
      for (const t of outs.values()) t.dispose();
      const n = batchSamples(batch);
      samples += n;
      batches++;
      task.tick(n);
      if (options.samples !== undefined && samples >= options.samples) break;
    }
  } finally {
    task.done();
    session.dispose();
  }
  for (const v of notFloat) {
    observers.delete(v);
    types.delete(v);
  }
  return { observers, types, samples, batches };
}

/**
 * Inserts QuantizeLinear -> DequantizeLinear after `v`; every reader of `v` reads the dequantized value.
 * The pair runs in float32: a tensor of another float type (`floatType`) is cast to float32 before it
 * and back after it.
 */
function insertQdq(g: Graph, v: Value, scale: number, zeroPoint: number, domain: '' | 'com.microsoft', floatType: number): void {
  const root = g.root();
  const shape = v.type?.kind === 'tensor' ? v.type.shape : undefined;
  const pairType = DataType.FLOAT;
  const s = root.addInitializer(`${v.name}_scale`, Tensor.float32([], [scale]));
  const zp = root.addInitializer(`${v.name}_zero_point`, new Tensor(DataType.UINT8, [], Uint8Array.of(zeroPoint)));
  const readers = [...v.uses];
  const where = v.producer && v.producer.graph === g ? { after: v.producer } : { before: g.nodes[0] };
  let x = v;
  if (floatType !== pairType) {
    const cast = g.createNode({ opType: 'Cast', name: `${v.name}_Cast_float`, inputs: [v], outputs: [`${v.name}_float`], attributes: [makeAttr('to', DataType.FLOAT, 'int')], ...where });
    x = cast.output(0)!;
    x.type = { kind: 'tensor', elemType: DataType.FLOAT, shape };
  }
  const q = g.createNode({ opType: 'QuantizeLinear', domain, name: `${v.name}_QuantizeLinear`, inputs: [x, s, zp], outputs: [`${v.name}_QuantizeLinear_Output`], ...(x === v ? where : { after: x.producer! }) });
  const dq = g.createNode({ opType: 'DequantizeLinear', domain, name: `${v.name}_DequantizeLinear`, inputs: [q.output(0), s, zp], outputs: [`${v.name}_DequantizeLinear_Output`], after: q });
  q.output(0)!.type = { kind: 'tensor', elemType: DataType.UINT8, shape };
  dq.output(0)!.type = { kind: 'tensor', elemType: pairType, shape };
  let out = dq.output(0)!;
  if (floatType !== pairType) {
    const back = g.createNode({ opType: 'Cast', name: `${v.name}_Cast_back`, inputs: [out], outputs: [`${v.name}_DequantizeLinear_Cast`], attributes: [makeAttr('to', floatType, 'int')], after: dq });
    out = back.output(0)!;
    out.type = { kind: 'tensor', elemType: floatType, shape };
  }
  for (const u of readers) u.node.setInput(u.index, out);
}

/**
 * Quantizes a float32 bias of a Conv/Gemm to int32 with scale inputScale * weightScale[c] and feeds it
 * through DequantizeLinear (axis 0). Leaves it float when it is not a float32 constant of one value per
 * output channel or would overflow int32.
 */
function quantizeBias(node: Node, inputScale: number, wq: QuantizedTensor, domain: '' | 'com.microsoft'): boolean {
  const b = node.input(2);
  if (!b?.initializer || b.initializer.dataType !== DataType.FLOAT) return false;
  if (node.opType === 'Gemm' && node.attrFloat('beta', 1) !== 1) return false;
  const data = b.initializer.data as Float32Array;
  const n = data.length;
  const perChannel = wq.scales.length;
  if (b.initializer.rank !== 1 || (perChannel !== 1 && perChannel !== n)) return false;
  const scales = new Float32Array(n);
  const codes = new Int32Array(n);
  for (let c = 0; c < n; c++) {
    const s = Math.fround(inputScale * wq.scales[perChannel === 1 ? 0 : c]!);
    if (!(s > 0)) return false;
    const q = roundHalfEven(data[c]! / s);
    if (Math.abs(q) > 2 ** 31 - 1) return false;
    scales[c] = s;
    codes[c] = q;
  }
  const g = node.graph;
  const root = g.root();
  const bq = root.addInitializer(`${b.name}_quantized`, new Tensor(DataType.INT32, [n], codes));
  const bs = root.addInitializer(`${b.name}_quantized_scale`, Tensor.float32([n], scales));
  const bz = root.addInitializer(`${b.name}_quantized_zero_point`, new Tensor(DataType.INT32, [n], new Int32Array(n)));
  const dq = g.createNode({
    opType: 'DequantizeLinear',
    domain,
    name: `${b.name}_DequantizeLinear`,
    inputs: [bq, bs, bz],
    outputs: [`${b.name}_DequantizeLinear_Output`],
    attributes: [makeAttr('axis', 0, 'int')],
    before: g.nodes[0],
  });
  node.setInput(2, dq.output(0));
  if (b.uses.length === 0 && !b.isGraphOutput) b.graph.removeInitializer(b);
  return true;
}

/**
 * Static quantization of `model` in place: calibrate, fuse Relu/Clip, quantize weights and biases, and put
 * Q/DQ on the selected activations. Returns the weight reports and warnings.
 */
export async function quantizeStatic(model: Model, plan: QuantizePlan, options: QuantizeOptions, ctx: Context & { data: FeedBatches }): Promise<{ layers: LayerReport[]; warnings: string[] }> {
  const warnings: string[] = [];
  const g = model.graph;
  const sel = select(model, plan, options);
  const watch = new Set(sel.tensors);
  for (const act of sel.fused.values()) watch.add(act.output(0)!);
  const { observers, types, samples } = await calibrate(model, watch, options, ctx);
  if (samples === 0) throw new NumericsError('the calibration data had no samples', 'check --data and --samples');
  ctx.logger.info(`calibrated ${observers.size} tensors on ${samples} samples (${options.calibration})`);

  // Relu/Clip fusion: the op's output takes the activation's range and readers.
  const rangeOf = new Map<Value, { min: number; max: number }>();
  for (const [v, o] of observers) rangeOf.set(v, o.range());
  for (const [out, act] of sel.fused) {
    const actOut = act.output(0)!;
    const r = rangeOf.get(actOut);
    if (!r || !rangeOf.has(out)) continue;
    rangeOf.set(out, r);
    for (const u of [...actOut.uses]) u.node.setInput(u.index, out);
    if (sel.tensors.has(actOut)) sel.tensors.delete(actOut);
    const bounds = act.inputs.slice(1).filter((v): v is Value => v !== null);
    g.removeNode(act);
    for (const b of bounds) {
      if (b.uses.length > 0 || b.isGraphOutput) continue;
      if (b.initializer) b.graph.removeInitializer(b);
      else if (b.producer?.opType === 'Constant') b.producer.graph.removeNode(b.producer);
    }
    ctx.logger.debug(`static: ${act.opType} '${act.name}' folded into the quantized range of '${out.name}'`);
  }

  // Shared parameters.
  const groups = new Groups();
  for (const n of g.nodes) {
    if (n.opType === 'Concat' && sel.nodes.includes(n)) {
      const out = n.output(0)!;
      for (const v of n.inputs) if (v && sel.tensors.has(v) && rangeOf.has(v)) groups.union(v, out);
    } else if (passThrough.has(n.opType)) {
      const a = n.input(0);
      const b = n.output(0);
      if (a && b && sel.tensors.has(a) && sel.tensors.has(b) && rangeOf.has(a) && rangeOf.has(b)) groups.union(a, b);
    }
  }
  const groupRange = new Map<Value, { min: number; max: number }>();
  for (const v of sel.tensors) {
    const r = rangeOf.get(v);
    if (!r) continue;
    const root = groups.find(v);
    const cur = groupRange.get(root);
    groupRange.set(root, cur ? { min: Math.min(cur.min, r.min), max: Math.max(cur.max, r.max) } : { ...r });
  }
  const paramsOf = (v: Value) => {
    const r = groupRange.get(groups.find(v))!;
    return scaleZeroPoint(r.min, r.max, 0, 255, false);
  };

  const domain: '' | 'com.microsoft' = plan.weights.some((d) => d.format === 'com.microsoft.dequantizelinear') || (model.opset('') ?? 0) < 10 ? 'com.microsoft' : '';
  if (domain) model.ensureOpset('com.microsoft', 1);

  // Weights (and, for Conv/Gemm whose input is quantized, their biases).
  const layers: LayerReport[] = [];
  for (const d of plan.weights) {
    if (d.bits === 'float') {
      layers.push(layerReport(d));
      continue;
    }
    const { error, q } = applyWeightDecision(model, d);
    layers.push(layerReport({ ...d, format: d.sites[0]!.op === 'Gather' ? d.format : 'qdq' }, error));
    for (const s of d.sites) {
      if (s.op !== 'Conv' && s.op !== 'Gemm') continue;
      const x = s.node.input(0);
      if (!x || !sel.tensors.has(x) || !groupRange.has(groups.find(x))) continue;
      if (q) quantizeBias(s.node, paramsOf(x).scale, q, domain);
    }
  }

  // Activations.
  let count = 0;
  for (const v of sel.tensors) {
    if (!groupRange.has(groups.find(v)) || v.uses.length === 0) continue;
    const { scale, zeroPoint } = paramsOf(v);
    insertQdq(v.producer?.graph ?? g, v, scale, zeroPoint, domain, types.get(v) ?? DataType.FLOAT);
    count++;
  }
  plan.activations = count;
  const unobserved = [...sel.tensors].filter((v) => !rangeOf.has(v)).length;
  if (unobserved > 0) ctx.logger.debug(`static: ${unobserved} tensors were not float32 or not computed on the data and stay float`);
  return { layers, warnings };
}
