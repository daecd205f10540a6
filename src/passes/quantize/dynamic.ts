/**
 * Dynamic int8 quantization in onnxruntime's QOperator form, as its `quantize_dynamic` writes it
 * (onnxruntime/python/tools/quantization/operators/matmul.py, conv.py): int8 weights stored ahead of
 * time, activations quantized at run time to uint8 by DynamicQuantizeLinear, shared by all readers of a
 * tensor, then
 *
 *   MatMulInteger / ConvInteger (int32) -> Cast(float) -> Mul(x_scale * w_scale) [-> Add(bias)]
 *
 * Gemm (transA = 0) is written the same way on W = alpha * B' with its bias added after. Embedding
 * tables (Gather) and weights read by several nodes get int8 DequantizeLinear, as in weight-only
 * quantization.
 *
 * DynamicQuantizeLinear takes float32 only, so in a float16 or bfloat16 model a Cast to float32 comes
 * before it (one per tensor, shared like the quantization) and a Cast back to the model's type after the
 * scale Mul; the bias is added in the model's type. com.microsoft's MatMulIntegerToFloat would take the
 * float16 scales directly, but onnxruntime 1.30 ran it no faster than these standard ops (docs/quantize.md)
 * and it has no bfloat16.
 */
import { DataType } from '../../core/dtype.js';
import type { Context } from '../../core/logger.js';
import { makeAttr } from '../../ir/attribute.js';
import type { Graph } from '../../ir/graph.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import { Tensor, type NumericArray } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';
import { floatTensor, releaseWeight, weightValues, weightView } from '../../ir/weights.js';
import type { LayerReport } from '../../report/schema.js';
import type { QuantLayout } from '../../tensor/quant.js';
import { codeTensor } from '../shared/writers.js';
import type { QuantizePlan, WeightDecision } from './plan.js';
import { gemmWeightMatrix, quantizeWeight } from './solve.js';
import { applyWeightDecision, layerReport } from './weights.js';

interface DynamicInput {
  q: Value;
  scale: Value;
  zeroPoint: Value;
}

/**
 * The DynamicQuantizeLinear of a float tensor, made once and shared by its readers; a tensor of another
 * float type than float32 (`floatType`) is cast to float32 first.
 */
function dynamicInput(g: Graph, x: Value, floatType: number, cache: Map<Value, DynamicInput>): DynamicInput {
  const hit = cache.get(x);
  if (hit) return hit;
  const producerIndex = x.producer && x.producer.graph === g ? g.nodes.indexOf(x.producer) : -1;
  const after = producerIndex >= 0 ? g.nodes[producerIndex] : undefined;
  let where: { after: Node } | { before: Node | undefined } = after ? { after } : { before: g.nodes[0] };
  let input = x;
  if (floatType !== DataType.FLOAT) {
    const cast = g.createNode({ opType: 'Cast', name: `${x.name}_Cast_float`, inputs: [x], outputs: [`${x.name}_float`], attributes: [makeAttr('to', DataType.FLOAT, 'int')], ...where });
    input = cast.output(0)!;
    input.type = { kind: 'tensor', elemType: DataType.FLOAT, shape: x.type?.kind === 'tensor' ? x.type.shape : undefined };
    where = { after: cast };
  }
  const node = g.createNode({
    opType: 'DynamicQuantizeLinear',
    name: `${x.name}_QuantizeLinear`,
    inputs: [input],
    outputs: [`${x.name}_quantized`, `${x.name}_scale`, `${x.name}_zero_point`],
    ...where,
  });
  const r = { q: node.output(0)!, scale: node.output(1)!, zeroPoint: node.output(2)! };
  cache.set(x, r);
  return r;
}

/** Rewrites one MatMul / Gemm / Conv into the integer form; returns the weight's reconstruction error. */
function rewriteNode(d: WeightDecision, cache: Map<Value, DynamicInput>): number {
  const site = d.sites[0]!;
  const node = site.node;
  const g = node.graph;
  const root = g.root();
  const x = node.input(0)!;
  const out = node.output(0)!;
  const name = node.name || site.value.name;

  // The model's float type (the weight's): the activations are cast from it and the output back to it.
  const floatType = d.floatType;
  // The weight as the integer op multiplies it, and its layout.
  let data = weightView(site.tensor);
  let dims = site.tensor.dims.slice();
  let layout: QuantLayout = d.layout!;
  if (site.op === 'Gemm') {
    const w = gemmWeightMatrix(data, dims, node.attrInt('transB', 0) !== 0, node.attrFloat('alpha', 1));
    data = w.data;
    dims = w.dims;
    if (layout.kind === 'axis') layout = { kind: 'axis', axis: 1 };
  }
  const { q, error } = quantizeWeight(data, dims, layout, 8, true);
  releaseWeight(site.tensor);
  const wq = root.addInitializer(`${site.value.name}_quantized`, codeTensor(q.codes, dims, 8, true));
  // ConvInteger takes a per-tensor weight zero point only; symmetric weights have 0 everywhere anyway.
  const perChannel = q.scales.length > 1;
  const zpShape = perChannel && site.op !== 'Conv' ? [q.scales.length] : [];
  const wzp = root.addInitializer(`${site.value.name}_zero_point`, codeTensor(new Int32Array(zpShape.length ? q.scales.length : 1), zpShape, 8, true));
  const scaleShape = !perChannel ? [] : site.op === 'Conv' ? [q.scales.length, ...new Array(dims.length - 2).fill(1)] : [q.scales.length];
  const wscale = root.addInitializer(`${site.value.name}_scale`, Tensor.float32(scaleShape, q.scales));

  const dx = dynamicInput(g, x, floatType, cache);
  const intOp = site.op === 'Conv' ? 'ConvInteger' : 'MatMulInteger';
  const attrs = site.op === 'Conv' ? [...node.attributes.values()] : [];
  const next = g.nodes[g.nodes.indexOf(node) + 1];
  const bias = site.op === 'Conv' ? node.input(2) : site.op === 'Gemm' ? node.input(2) : null;
  const beta = site.op === 'Gemm' ? node.attrFloat('beta', 1) : 1;
  g.removeNode(node, { safe: false, keepOutputs: true });
  const place = { before: next };
  const mmOut = g.createNode({ opType: intOp, name: `${name}_quant`, inputs: [dx.q, wq, dx.zeroPoint, wzp], outputs: [`${out.name}_quantized`], attributes: attrs, ...place });
  const cast = g.createNode({ opType: 'Cast', name: `${name}_cast`, inputs: [mmOut.output(0)], outputs: [`${out.name}_cast`], attributes: [makeAttr('to', DataType.FLOAT, 'int')], ...place });
  const scales = g.createNode({ opType: 'Mul', name: `${name}_scales_mul`, inputs: [dx.scale, wscale], outputs: [`${name}_scales_mul`], ...place });
  const hasBias = bias !== null && !(site.op === 'Gemm' && beta === 0);
  const typed = floatType !== DataType.FLOAT;
  const unbiased = hasBias ? g.createValue(`${out.name}_unbiased`) : out;
  const mulOut = typed ? g.createValue(`${out.name}_scaled`) : unbiased;
  g.createNode({ opType: 'Mul', name: `${name}_output_scale_mul`, inputs: [cast.output(0), scales.output(0)], outputs: [mulOut], ...place });
  if (typed) {
    // Back to the model's float type, in which the bias is added.
    g.createNode({ opType: 'Cast', name: `${name}_output_cast`, inputs: [mulOut], outputs: [unbiased], attributes: [makeAttr('to', floatType, 'int')], ...place });
  }
  if (hasBias) {
    let b: Value = bias!;
    if (site.op === 'Conv' && b.initializer) {
      // Conv's bias is [O]: reshape it to [O, 1, ...] to broadcast against [N, O, spatial...].
      const t = b.initializer;
      b = root.addInitializer(`${b.name}_broadcast`, new Tensor(t.dataType, [t.size, ...new Array(dims.length - 2).fill(1)], (t.view() as NumericArray).slice()));
    } else if (site.op === 'Conv') {
      const shape = root.addInitializer(`${name}_bias_shape`, Tensor.int64([dims.length - 1], [-1, ...new Array(dims.length - 2).fill(1)]));
      b = g.createNode({ opType: 'Reshape', inputs: [b, shape], outputs: [`${b.name}_broadcast`], ...place }).output(0)!;
    } else if (beta !== 1) {
      if (b.initializer && b.initializer.dataType === floatType) {
        b = root.addInitializer(`${b.name}_beta`, floatTensor(floatType, b.initializer.dims.slice(), weightValues(b.initializer).map((v) => v * beta)));
      } else {
        const betaV = root.addInitializer(`${name}_beta`, floatTensor(floatType, [], Float32Array.of(beta)));
        b = g.createNode({ opType: 'Mul', inputs: [b, betaV], outputs: [`${b.name}_beta`], ...place }).output(0)!;
      }
    }
    g.createNode({ opType: 'Add', name: `${name}_bias_add`, inputs: [unbiased, b], outputs: [out], ...place });
  }
  for (const v of [site.value, bias]) if (v?.initializer && v.uses.length === 0 && !v.isGraphOutput) v.graph.removeInitializer(v);
  return error;
}

/**
 * Carries out a dynamic plan: 'integer' decisions become integer ops, DequantizeLinear decisions
 * (embedding tables) are written as in weight-only quantization. Returns the layer reports.
 */
export function quantizeDynamic(model: Model, plan: QuantizePlan, ctx: Context): LayerReport[] {
  const cache = new Map<Value, DynamicInput>();
  const layers: LayerReport[] = [];
  const todo = plan.weights.filter((d) => d.bits !== 'float');
  const task = ctx.progress.start('quantize weights', todo.length);
  for (const d of plan.weights) {
    if (d.bits === 'float') {
      layers.push(layerReport(d));
      continue;
    }
    if (d.format === 'integer') {
      layers.push(layerReport(d, rewriteNode(d, cache)));
    } else {
      layers.push(layerReport(d, applyWeightDecision(model, d).error));
    }
    task.tick(1, d.node);
  }
  task.done();
  plan.activations = cache.size;
  return layers;
}
