/**
 * Selu (ONNX): gamma * x for x > 0, gamma * alpha * (e^x - 1) below, with the self-normalising constants of
 * Klambauer et al. 2017 as defaults (alpha 1.6732632..., gamma 1.0507009...). Written without a select,
 * as Elu is.
 */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Selu kernel of ai.onnx, from opset 1. */
export const Selu: OpKernel[] = [
  {
    domain: '',
    opType: 'Selu',
    since: 1,
    run: unaryKernel({
      device: (x, ctx) => {
        const alpha = ctx.node.attrFloat('alpha', 1.67326319217681884765625);
        const gamma = ctx.node.attrFloat('gamma', 1.05070102214813232421875);
        const neg = tf.mul(tf.scalar(alpha), tf.expm1(tf.minimum(x, tf.scalar(0))));
        return tf.mul(tf.scalar(gamma), tf.add(tf.relu(x), neg));
      },
    }),
  },
];
