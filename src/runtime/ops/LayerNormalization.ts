/**
 * LayerNormalization (ONNX opset 17; also onnxruntime's com.microsoft contrib op of the same name and
 * semantics): normalises X over the axes [axis, rank) with their mean and variance, then applies Scale
 * and the optional B (both broadcast to the normalised shape). Optional outputs Mean and InvStdDev have
 * X's shape with the normalised axes set to 1. Computed as one last-axis reduction over X viewed as
 * [outer, inner] (contiguous, fast on every backend).
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { normAxis, required } from '../kernel.js';
import { attr, floatConst, int32Const, nativeOp, nativeOps, typeAttr } from '../tensorflow.js';
import { onDevice } from '../util/device.js';
import { RTensor } from '../value.js';

function run(inputs: readonly (RTensor | null)[], ctx: KernelContext): (RTensor | null)[] {
  const X = required(inputs, 0, ctx);
  const scale = required(inputs, 1, ctx);
  const B = inputs[2] ?? null;
  const node = ctx.node;
  if (X.rank < 1) throw new ModelError(`${node.describe()}: X must have rank >= 1`);
  const axis = normAxis(node.attrInt('axis', -1), X.rank, ctx);
  const eps = node.attrFloat('epsilon', 1e-5);
  const outer = X.dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = X.dims.slice(axis).reduce((a, b) => a * b, 1);
  const statDims = X.dims.map((d, i) => (i < axis ? d : 1));
  onDevice(X, scale, B);
  const [y, mean, inv] = tf.tidy(() => {
    if (!ctx.training && X.tf.dtype === 'float32' && nativeOps()) return nativeLayerNorm(X.tf, scale.tf, B?.tf, axis, eps);
    const x2 = tf.reshape(X.tf, [outer, inner]);
    const m = tf.moments(x2, 1, true);
    const invStd = tf.rsqrt(tf.add(m.variance, eps));
    const normed = tf.reshape(tf.mul(tf.sub(x2, m.mean), invStd), X.dims);
    let out = tf.mul(normed, scale.tf);
    if (B) out = tf.add(out, B.tf);
    return [out, tf.reshape(m.mean, statDims), tf.reshape(invStd, statDims)];
  }) as tf.Tensor[];
  // stash_type = 1 computes the statistics in float32, which is what tfjs does for every float type.
  const statType = node.attrInt('stash_type', 1) === 1 ? DataType.FLOAT : X.dataType;
  const want = (i: number) => node.outputs[i] != null;
  const outs: (RTensor | null)[] = [RTensor.fromTf(y!, X.dataType)];
  outs.push(want(1) ? RTensor.fromTf(mean!, statType) : (mean!.dispose(), null));
  outs.push(want(2) ? RTensor.fromTf(inv!, statType) : (inv!.dispose(), null));
  return outs;
}

/**
 * The same on TensorFlow at inference, in its own ops over the trailing axes directly (no reshape, no
 * casts; statistics kept with unit axes): Mean, Sub, Square, Mean, AddV2, Rsqrt, Mul, Mul, AddV2.
 */
function nativeLayerNorm(x: tf.Tensor, scale: tf.Tensor, b: tf.Tensor | undefined, axis: number, eps: number): tf.Tensor[] {
  const T = typeAttr('float32');
  const axes = int32Const(Array.from({ length: x.rank - axis }, (_, i) => axis + i));
  const mean = (t: tf.Tensor) => nativeOp('Mean', [t, axes], [T, typeAttr('int32', 'Tidx'), attr.bool('keep_dims', true)]);
  const m = mean(x);
  const d = nativeOp('Sub', [x, m], [T]);
  const variance = mean(nativeOp('Square', [d], [T]));
  const inv = nativeOp('Rsqrt', [nativeOp('AddV2', [variance, floatConst(eps)], [T])], [T]);
  let y = nativeOp('Mul', [nativeOp('Mul', [d, inv], [T]), scale], [T]);
  if (b) y = nativeOp('AddV2', [y, b], [T]);
  return [y, m, inv];
}

export const LayerNormalization: OpKernel[] = [
  { domain: '', opType: 'LayerNormalization', since: 17, run },
  { domain: 'com.microsoft', opType: 'LayerNormalization', since: 1, run },
];
