/**
 * BatchNormalization (ONNX): Y = (X - mean) / sqrt(var + epsilon) * scale + B per channel (axis 1).
 *
 * Inference folds the statistics into one multiply-add per element: a = scale / sqrt(var + epsilon),
 * b = B - mean * a, Y = X * a + b. Before opset 9, `spatial = 0` gave per-activation statistics (the
 * parameters have shape [C, D1, ...] instead of [C]); they broadcast over N the same way.
 *
 * Training statistics: with training_mode = 1 (opset 14+), or when an opset 6-13 node asks for its extra
 * outputs, Y uses the batch mean and (population) variance over every axis but the channel, and the
 * running statistics come out as input * momentum + batch * (1 - momentum). The session's own training
 * mode (gradients for distillation) keeps inference behaviour, as a frozen BN does in PyTorch's eval().
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { derived, isConstant } from '../util/constcache.js';
import { onDevice } from '../util/device.js';
import { RTensor } from '../value.js';

/** A [C] (or per-activation [C, D1, ...]) parameter shaped to broadcast against X [N, C, ...]. */
function param(t: tf.Tensor, xRank: number): tf.Tensor {
  if (t.rank <= 1) return tf.reshape(t, [-1, ...new Array<number>(Math.max(0, xRank - 2)).fill(1)]);
  return tf.reshape(t, [1, ...t.shape]);
}

function run(inputs: readonly (RTensor | null)[], ctx: KernelContext): (RTensor | null)[] {
  const X = required(inputs, 0, ctx);
  const scale = required(inputs, 1, ctx);
  const bias = required(inputs, 2, ctx);
  const mean = required(inputs, 3, ctx);
  const variance = required(inputs, 4, ctx);
  const node = ctx.node;
  if (X.rank < 2) throw new ModelError(`${node.describe()}: X must be [N, C, ...], got [${X.dims.join(',')}]`);
  const eps = node.attrFloat('epsilon', 1e-5);
  const momentum = node.attrFloat('momentum', 0.9);
  const extraOutputs = node.outputs.slice(1).some((v) => v != null);
  const training = ctx.opset >= 14 ? node.attrInt('training_mode', 0) !== 0 : extraOutputs;
  onDevice(X, scale, bias, mean, variance);
  if (!training) {
    // Channels-last X (from a conv) with per-channel parameters: [C] broadcasts over [N, H, W, C].
    const cl = X.channelsLast && scale.rank <= 1;
    // With constant parameters (the usual case) a and b are computed once per session.
    const constant = [scale, bias, mean, variance].every((r, i) => isConstant(r, node.input(i + 1)));
    const y = tf.tidy(() => {
      const makeA = () => tf.div(scale.tf, tf.sqrt(tf.add(variance.tf, eps)));
      const a = constant ? derived(scale, `bn-a:${eps}`, makeA, node.input(1)).t : makeA();
      const makeB = () => tf.sub(bias.tf, tf.mul(mean.tf, a));
      const b = constant ? derived(bias, `bn-b:${eps}`, makeB, node.input(2)).t : makeB();
      if (cl) return tf.add(tf.mul(X.nhwc(), a.rank === 1 ? a : tf.reshape(a, [-1])), b.rank === 1 ? b : tf.reshape(b, [-1]));
      return tf.add(tf.mul(X.tf, param(a, X.rank)), param(b, X.rank));
    });
    return [cl ? RTensor.fromNhwc(y as tf.Tensor4D, X.dataType) : RTensor.fromTf(y, X.dataType)];
  }
  const axes = [0, ...X.dims.slice(2).map((_, i) => i + 2)];
  const [y, runMean, runVar, batchMean, batchVar] = tf.tidy(() => {
    const m = tf.moments(X.tf, axes);
    const inv = tf.rsqrt(tf.add(m.variance, eps));
    const yy = tf.add(tf.mul(tf.mul(tf.sub(X.tf, param(m.mean, X.rank)), param(inv, X.rank)), param(scale.tf, X.rank)), param(bias.tf, X.rank));
    const rm = tf.add(tf.mul(mean.tf, momentum), tf.mul(m.mean, 1 - momentum));
    const rv = tf.add(tf.mul(variance.tf, momentum), tf.mul(m.variance, 1 - momentum));
    return [yy, rm, rv, m.mean, m.variance];
  }) as tf.Tensor[];
  const outs = [RTensor.fromTf(y!, X.dataType), RTensor.fromTf(runMean!, mean.dataType), RTensor.fromTf(runVar!, variance.dataType)];
  if (ctx.opset < 14) return [...outs, RTensor.fromTf(batchMean!, mean.dataType), RTensor.fromTf(batchVar!, variance.dataType)];
  batchMean!.dispose();
  batchVar!.dispose();
  return outs;
}

/**
 * Versions: 1 and 6 (is_test, spatial), 7 (no is_test), 9 (no spatial: always per channel), 14
 * (training_mode, 3 outputs), 15 (separate types for the statistics). One kernel reads what each has.
 */
export const BatchNormalization: OpKernel[] = [{ domain: '', opType: 'BatchNormalization', since: 1, run }];
