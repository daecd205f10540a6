/**
 * Softmax and LogSoftmax, shared by the two op files. Before opset 13 the input is coerced to 2-D at
 * `axis` (default 1): [prod(dims[:axis]), prod(dims[axis:])], normalised over the second dimension and
 * reshaped back. Since 13 the normalisation runs along `axis` alone (default -1).
 *
 * Both subtract the maximum first, so exp never overflows (softmax(x) = softmax(x - max x)).
 */
import { tf } from '../backend.js';
import type { Kernel } from '../kernel.js';
import { normAxis, required } from '../kernel.js';
import { tfCompute } from './elementwise.js';

function along(x: tf.Tensor, axis: number, log: boolean): tf.Tensor {
  const shifted = tf.sub(x, tf.max(x, axis, true));
  if (log) return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), axis, true)));
  const e = tf.exp(shifted);
  return tf.div(e, tf.sum(e, axis, true));
}

/** The kernel of Softmax (log=false) or LogSoftmax (log=true); `coerce2d` for opsets before 13. */
export function softmaxKernel(log: boolean, coerce2d: boolean): Kernel {
  return (inputs, ctx) => {
    const x = required(inputs, 0, ctx);
    const t = x.tf;
    if (x.size === 0) return [tfCompute(x.dataType, [t], () => tf.clone(t))];
    if (coerce2d) {
      const axis = normAxis(ctx.node.attrInt('axis', 1), x.rank, ctx);
      const rows = x.dims.slice(0, axis).reduce((a, b) => a * b, 1);
      return [tfCompute(x.dataType, [t], () => tf.reshape(along(tf.reshape(t, [rows, x.size / rows]), 1, log), x.dims))];
    }
    const axis = normAxis(ctx.node.attrInt('axis', -1), x.rank, ctx);
    return [tfCompute(x.dataType, [t], () => along(t, axis, log))];
  };
}
