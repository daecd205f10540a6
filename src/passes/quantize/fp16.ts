/**
 * `--fp16`: float32 (and bfloat16) weights and computation to float16, as onnxconverter-common's
 * `float16.convert_float_to_float16` (used by onnxruntime's transformers tools) does: every float32
 * initializer, Constant and value becomes float16, except around ops that must stay float32 (its
 * DEFAULT_OP_BLOCK_LIST: Resize/Upsample scales, Range, TopK, NonMaxSuppression, RoiAlign, CumSum, Min,
 * Max, the ai.onnx.ml ops; plus ops of other domains, nodes with subgraphs, and --exclude), which get
 * Casts on their float inputs and outputs. With keepIoTypes (the default) the model's float32 inputs and
 * outputs stay float32, with Casts at the edges. Shape and index tensors are integers and never touched.
 *
 * A bfloat16 model converts the same way: its bfloat16 tensors become float16 (values beyond float16's
 * range saturate), and the ops that stay float32 read float32. A model that is float16 already has nothing
 * to convert: the pass says so (NothingToDoError, exit 1) rather than write the same model again.
 *
 * Which values are float32 is worked out by propagating element types node by node (the IR does not keep
 * the types of intermediate values): the output type of most ops is their first input's type; the
 * exceptions (Cast, Shape, comparisons, ArgMax, ...) are listed below.
 */
import { bitsPerElement, DataType } from '../../core/dtype.js';
import { NothingToDoError } from '../../core/errors.js';
import { float32ToFloat16Bits, float16BitsToFloat32 } from '../../core/float16.js';
import type { Context } from '../../core/logger.js';
import { AttrType, makeAttr } from '../../ir/attribute.js';
import type { Graph } from '../../ir/graph.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import { Tensor } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';
import type { LayerReport } from '../../report/schema.js';
import { relativeError } from '../../tensor/quant.js';
import { floatTypeName, weightView } from '../../ir/weights.js';
import type { QuantizeOptions } from './options.js';
import type { QuantizePlan, WeightDecision } from './plan.js';

/** Ops that stay float32 (onnxconverter-common float16.py DEFAULT_OP_BLOCK_LIST). */
export const fp16BlockList = new Set([
  'ArrayFeatureExtractor',
  'Binarizer',
  'CastMap',
  'CategoryMapper',
  'DictVectorizer',
  'FeatureVectorizer',
  'Imputer',
  'LabelEncoder',
  'LinearClassifier',
  'LinearRegressor',
  'Normalizer',
  'OneHotEncoder',
  'RandomUniformLike',
  'SVMClassifier',
  'SVMRegressor',
  'Scaler',
  'TreeEnsembleClassifier',
  'TreeEnsembleRegressor',
  'ZipMap',
  'NonMaxSuppression',
  'TopK',
  'RoiAlign',
  'Resize',
  'Range',
  'CumSum',
  'Min',
  'Max',
  'Upsample',
]);

const boolOut = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const int64Out = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin']);

const F32 = DataType.FLOAT;
const F16 = DataType.FLOAT16;
const BF16 = DataType.BFLOAT16;

/** The float types converted to float16: float32 and bfloat16. */
function isSource(t: number | undefined): boolean {
  return t === F32 || t === BF16;
}

/** The element types of a node's outputs, given its input types (undefined where unknown). */
function outputTypes(n: Node, typeOf: (v: Value | null) => number | undefined): (number | undefined)[] {
  const first = n.inputs.map(typeOf).find((t) => t !== undefined);
  const declared = n.outputs.map((o) => (o?.type?.kind === 'tensor' ? o.type.elemType : undefined));
  if (n.domain !== '') return declared;
  switch (n.opType) {
    case 'Cast':
      return [n.attrInt('to')];
    case 'CastLike':
      return [typeOf(n.input(1))];
    case 'Constant': {
      const a = [...n.attributes.values()][0];
      if (!a) return declared;
      if (a.type === AttrType.TENSOR) return [(a.value as Tensor).dataType];
      if (a.name === 'value_float' || a.name === 'value_floats') return [F32];
      if (a.name === 'value_int' || a.name === 'value_ints') return [DataType.INT64];
      return declared;
    }
    case 'ConstantOfShape':
      return [n.attrTensor('value')?.dataType ?? F32];
    case 'TopK':
      return [typeOf(n.input(0)), DataType.INT64];
    case 'Where':
      return [typeOf(n.input(1))];
    case 'OneHot':
      return [typeOf(n.input(2))];
    case 'EyeLike':
    case 'RandomNormalLike':
    case 'RandomUniformLike':
      return [n.attrInt('dtype') ?? typeOf(n.input(0))];
    case 'RandomNormal':
    case 'RandomUniform':
      return [n.attrInt('dtype') ?? F32];
    case 'Unique':
      return [typeOf(n.input(0)), DataType.INT64, DataType.INT64, DataType.INT64];
    case 'If':
    case 'Loop':
    case 'Scan':
      return declared;
    default:
      if (boolOut.has(n.opType)) return n.outputs.map(() => DataType.BOOL);
      if (int64Out.has(n.opType)) return n.outputs.map(() => DataType.INT64);
      // MaxPool's indices, Dropout's mask: declared or left unknown; the main output follows input 0.
      return n.outputs.map((_, i) => (i === 0 ? first : declared[i]));
  }
}

function toF16(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) {
    // Values beyond float16's range saturate to +-65504 rather than becoming infinities (as the converter's clipping does).
    const v = data[i]!;
    out[i] = float32ToFloat16Bits(v > 65504 ? 65504 : v < -65504 ? -65504 : v);
  }
  return out;
}

/** A float32 or bfloat16 tensor as float16. */
function f16Tensor(t: Tensor, name: string): Tensor {
  return new Tensor(F16, t.dims.slice(), toF16(weightView(t)), name);
}

/**
 * How many float32 / bfloat16 tensors and values the model has (initializers, Constant values, typed
 * graph inputs and outputs, Casts to them), subgraphs included: 0 means there is nothing to convert.
 */
function sourceTensors(model: Model): number {
  let n = 0;
  for (const g of model.graph.allGraphs()) {
    for (const v of g.initializers) if (isSource(v.initializer!.dataType)) n++;
    for (const v of [...g.inputs, ...g.outputs]) if (isSource(v.elemType)) n++;
    for (const node of g.nodes) {
      if (node.opType === 'Cast' && isSource(node.attrInt('to'))) n++;
      if (node.opType === 'Constant') {
        const a = [...node.attributes.values()][0];
        if (a && ((a.type === AttrType.TENSOR && isSource((a.value as Tensor).dataType)) || a.name === 'value_float' || a.name === 'value_floats')) n++;
      }
    }
  }
  return n;
}

function setElemType(v: Value, t: number): void {
  if (v.type?.kind === 'tensor') v.type = { ...v.type, elemType: t };
  else if (!v.type) v.type = { kind: 'tensor', elemType: t };
}

/**
 * Converts the model to float16 (in place unless `dryRun`). Returns the per-weight reports (bits 16,
 * the error of float16 rounding), a plan listing the weights, and warnings.
 */
export function convertFloat16(model: Model, options: QuantizeOptions, ctx: Context, dryRun: boolean): { modified: boolean; layers: LayerReport[]; plan: QuantizePlan; warnings: string[] } {
  const g = model.graph;
  const warnings: string[] = [];
  if (sourceTensors(model) === 0) {
    const f16 = g.initializers.filter((v) => v.initializer!.dataType === F16).length;
    throw new NothingToDoError(
      `nothing to convert to float16: the model has no float32 or bfloat16 tensor${f16 > 0 ? ` (its ${f16} float initializers are float16 already)` : ''}`,
      'quantize it with --bits 8 or --bits 4 to make it smaller',
    );
  }
  const blocked = (n: Node) =>
    fp16BlockList.has(n.opType) || (n.domain !== '' && n.domain !== 'com.microsoft') || n.subgraphs().length > 0 || (options.exclude?.test(n.name) ?? false);

  // The weights: float32 and bfloat16 initializers of the main graph read by at least one float16 node.
  const decisions: WeightDecision[] = [];
  for (const v of g.initializers) {
    const t = v.initializer!;
    if (!isSource(t.dataType)) continue;
    const bytes = bitsPerElement(t.dataType) / 8;
    const readers = v.consumers();
    const anyF16 = readers.some((n) => !blocked(n));
    const first = readers[0];
    decisions.push({
      node: first?.name ?? '',
      op: first?.opType ?? '',
      weight: v.name,
      role: 'body',
      floatType: t.dataType,
      bits: anyF16 ? 16 : 'float',
      format: anyF16 ? 'float16' : 'float',
      reason: anyF16 ? undefined : `read only by ops that stay float32 (${[...new Set(readers.map((n) => n.opType))].join(', ')})`,
      params: t.size,
      bytes: { before: bytes * t.size, after: (anyF16 ? 2 : bytes) * t.size },
      sites: [],
    });
  }
  const bytes = decisions.reduce((a, d) => ({ before: a.before + d.bytes.before, after: a.after + d.bytes.after }), { before: 0, after: 0 });
  const plan: QuantizePlan = { mode: 'fp16', weights: decisions, newDomains: [], skipped: [], bytes };
  const layersOf = (errors: Map<string, number>) =>
    decisions.map((d): LayerReport => {
      const r: LayerReport = { name: d.node, op: d.op, bits: d.bits === 16 ? 16 : bitsPerElement(d.floatType), params: d.params, weight: d.weight, format: d.format, dataType: floatTypeName(d.floatType) };
      const e = errors.get(d.weight);
      if (e !== undefined) r.error = e;
      if (d.reason) r.skipped = d.reason;
      return r;
    });
  if (dryRun) return { modified: false, layers: layersOf(new Map()), plan, warnings };

  const types = new Map<Value, number | undefined>();
  const typeOf = (v: Value | null): number | undefined => {
    if (!v) return undefined;
    if (types.has(v)) return types.get(v);
    if (v.initializer) return v.initializer.dataType;
    return v.type?.kind === 'tensor' ? v.type.elemType : undefined;
  };
  const errors = new Map<string, number>();
  const f16Copies = new Map<Value, Value>();
  const castCache = new Map<string, Value>();

  /** A float16 version of a float32 value: the initializer converted, or a Cast after it. */
  const asF16 = (v: Value, graph: Graph, before: Node): Value => {
    if (v.initializer) {
      const hit = f16Copies.get(v);
      if (hit) return hit;
      const readers = v.consumers();
      if (readers.every((n) => !blocked(n)) && !v.isGraphOutput && !v.isGraphInput) {
        // Every reader computes in float16: convert the initializer in place.
        const data = weightView(v.initializer);
        const t = f16Tensor(v.initializer, v.name);
        errors.set(v.name, relativeError(data, Array.from(t.data as Uint16Array, float16BitsToFloat32)));
        v.initializer = t;
        f16Copies.set(v, v);
        return v;
      }
      const copy = v.graph.addInitializer(`${v.name}_fp16`, f16Tensor(v.initializer, ''));
      errors.set(v.name, relativeError(weightView(v.initializer), Array.from(copy.initializer!.data as Uint16Array, float16BitsToFloat32)));
      f16Copies.set(v, copy);
      return copy;
    }
    return castTo(v, F16, graph, before);
  };
  const castTo = (v: Value, to: number, graph: Graph, before: Node): Value => {
    const key = `${v.name}\u0000${to}`;
    const hit = castCache.get(key);
    if (hit) return hit;
    const p = v.producer && v.producer.graph === graph ? v.producer : undefined;
    const cast = graph.createNode({
      opType: 'Cast',
      name: `${v.name}_cast_${to === F16 ? 'fp16' : 'fp32'}`,
      inputs: [v],
      outputs: [`${v.name}_${to === F16 ? 'fp16' : 'fp32'}`],
      attributes: [makeAttr('to', to, 'int')],
      ...(p ? { after: p } : { before }),
    });
    const out = cast.output(0)!;
    types.set(out, to);
    setElemType(out, to);
    castCache.set(key, out);
    return out;
  };

  // Graph inputs: float16 unless their types are kept.
  const outputTypes0 = g.outputs.map((v) => typeOf(v));
  for (const v of g.inputs) {
    if (v.initializer || !isSource(typeOf(v))) continue;
    if (!options.keepIoTypes) {
      setElemType(v, F16);
      types.set(v, F16);
    }
  }

  for (const n of [...g.nodes]) {
    const isBlocked = blocked(n);
    n.inputs.forEach((v, i) => {
      if (!v) return;
      const t = typeOf(v);
      if (isBlocked && (t === F16 || t === BF16)) n.setInput(i, castTo(v, F32, g, n));
      else if (!isBlocked && isSource(t)) n.setInput(i, asF16(v, g, n));
    });
    if (!isBlocked) {
      // Attributes that create float32 data create float16 instead.
      if (n.opType === 'Cast' && isSource(n.attrInt('to'))) n.setAttr(makeAttr('to', F16, 'int'));
      if (n.opType === 'Constant') {
        const a = n.attr('value');
        if (a?.type === AttrType.TENSOR && isSource(a.value.dataType)) n.setAttr({ name: 'value', type: AttrType.TENSOR, value: f16Tensor(a.value, a.value.name) });
        const vf = n.attr('value_float') ?? n.attr('value_floats');
        if (vf) {
          n.attributes.delete(vf.name);
          const vals = vf.type === AttrType.FLOAT ? [vf.value as number] : (vf.value as number[]);
          n.setAttr({ name: 'value', type: AttrType.TENSOR, value: f16Tensor(Tensor.float32(vf.type === AttrType.FLOAT ? [] : [vals.length], vals), '') });
        }
      }
      if (n.opType === 'ConstantOfShape') {
        const t = n.attrTensor('value');
        if (!t || isSource(t.dataType)) n.setAttr({ name: 'value', type: AttrType.TENSOR, value: t ? f16Tensor(t, t.name) : new Tensor(F16, [1], Uint16Array.of(0)) });
      }
      if (['EyeLike', 'RandomNormal', 'RandomUniform', 'RandomNormalLike'].includes(n.opType) && isSource(n.attrInt('dtype') ?? F32) && (n.opType === 'RandomNormal' || n.opType === 'RandomUniform' || n.attrInt('dtype') !== undefined)) {
        n.setAttr(makeAttr('dtype', F16, 'int'));
      }
    }
    const outs = outputTypes(n, typeOf);
    n.outputs.forEach((o, i) => {
      if (!o) return;
      const t = outs[i];
      if (t !== undefined) {
        types.set(o, t);
        if (o.type?.kind === 'tensor' || t === F16) setElemType(o, t);
      }
    });
  }

  // Graph outputs: back to their type (float32, or bfloat16) when their types are kept.
  g.outputs.forEach((v, k) => {
    if (typeOf(v) !== F16 || outputTypes0[k] === F16) return;
    if (!options.keepIoTypes) {
      setElemType(v, F16);
      return;
    }
    const to = outputTypes0[k] === BF16 ? BF16 : F32;
    const name = v.name;
    v.rename(g.uniqueName(`${name}_fp16`));
    const cast = g.createNode({ opType: 'Cast', name: `${name}_cast_${to === F32 ? 'fp32' : 'bf16'}`, inputs: [v], outputs: [g.createValue(name, { kind: 'tensor', elemType: to, shape: v.type?.kind === 'tensor' ? v.type.shape : undefined }, true)], attributes: [makeAttr('to', to, 'int')] });
    setElemType(v, F16);
    g.outputs[k] = cast.output(0)!;
  });
  g.removeUnused();
  const unknown = g.nodes.filter((n) => n.outputs.some((o) => o && typeOf(o) === undefined)).length;
  if (unknown > 0) ctx.logger.debug(`fp16: ${unknown} nodes with outputs of unknown type were left as they are`);
  return { modified: true, layers: layersOf(errors), plan, warnings };
}
