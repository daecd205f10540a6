/**
 * Elu (ONNX): x for x > 0, alpha * (e^x - 1) below (alpha 1 by default; Clevert et al. 2015), written as
 * relu(x) + alpha * expm1(min(x, 0)): no select (tfjs has no gradient for the comparison feeding one) and
 * no e^x of a large positive x.
 */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Elu kernel of ai.onnx, from opset 1. */
export const Elu: OpKernel[] = [
  {
    domain: '',
    opType: 'Elu',
    since: 1,
    run: unaryKernel({
      device: (x, ctx) => {
        const neg = tf.mul(tf.scalar(ctx.node.attrFloat('alpha', 1)), tf.expm1(tf.minimum(x, tf.scalar(0))));
        return tf.add(tf.relu(x), neg);
      },
    }),
  },
];
