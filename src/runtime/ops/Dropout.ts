/**
 * Dropout (ONNX). At inference it is the identity. Its optional mask output follows onnxruntime: before
 * opset 12 it marks dropped elements, so it is all zeros (of the data's type before opset 10, false
 * after); from 12 it marks kept elements and is all true. From opset 12, `ratio` and `training_mode` are
 * inputs; when `training_mode` is true the op really drops: each element is kept with probability
 * 1 - ratio and scaled by 1 / (1 - ratio) (inverted dropout, Srivastava et al. 2014), and the mask says
 * which were kept. A session's own training mode (distillation) leaves Dropout inference-like, as
 * onnxruntime's training graphs do when the model's training_mode input is false.
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { alias, required } from '../kernel.js';
import { filled } from '../util/host.js';
import { RTensor } from '../value.js';

/** The identity output plus, when the node asks for it, a mask of `maskType` filled with `value`. */
function inference(x: RTensor, ctx: KernelContext, maskType: number, value: 0 | 1): (RTensor | null)[] {
  const out: (RTensor | null)[] = [alias(x)];
  if (ctx.node.output(1)) out.push(filled(maskType, x.dims, value, !x.onDevice));
  return out;
}

/** Dropout-12+: inputs data, ratio (default 0.5), training_mode (default false); attribute seed. */
function dropout12(inputs: readonly (RTensor | null)[], ctx: KernelContext): (RTensor | null)[] {
  const x = required(inputs, 0, ctx);
  const training = inputs[2] ? inputs[2].numbers()[0] !== 0 : false;
  if (!training) return inference(x, ctx, DataType.BOOL, 1);
  const ratio = inputs[1] ? inputs[1].numbers()[0]! : 0.5;
  if (!(ratio >= 0 && ratio < 1)) throw new ModelError(`${ctx.node.describe()}: ratio ${ratio} must be in [0, 1) in training mode`);
  if (ratio === 0) return inference(x, ctx, DataType.BOOL, 1);
  const seed = ctx.node.attrInt('seed');
  // Touch x.tf outside the tidy: a lazily created tensor made inside it would be freed at its end.
  const xt = x.tf;
  const [y, mask] = tf.tidy(() => {
    const keep = tf.greaterEqual(tf.randomUniform(x.dims, 0, 1, 'float32', seed), ratio);
    return [tf.div(tf.mul(xt, tf.cast(keep, 'float32')), 1 - ratio), keep] as const;
  });
  const out: (RTensor | null)[] = [RTensor.fromTf(y, x.dataType)];
  if (ctx.node.output(1)) out.push(RTensor.fromTf(mask, DataType.BOOL));
  else mask.dispose();
  return out;
}

export const Dropout: OpKernel[] = [
  // Opsets 1-9: the mask has the data's type. `is_test` (before 7) only ever selected inference here.
  { domain: '', opType: 'Dropout', since: 1, run: (inputs, ctx) => inference(required(inputs, 0, ctx), ctx, required(inputs, 0, ctx).dataType, 0) },
  // Opset 10: the mask became bool.
  { domain: '', opType: 'Dropout', since: 10, run: (inputs, ctx) => inference(required(inputs, 0, ctx), ctx, DataType.BOOL, 0) },
  { domain: '', opType: 'Dropout', since: 12, run: dropout12 },
];
