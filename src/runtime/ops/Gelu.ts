/**
 * Gelu (ONNX, since 20): x * Phi(x) (Hendrycks & Gimpel 2016). `approximate="none"` uses the exact
 * 0.5 * x * (1 + erf(x / sqrt 2)); `"tanh"` the approximation 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Gelu kernel of ai.onnx, from opset 20. */
export const Gelu: OpKernel[] = [
  {
    domain: '',
    opType: 'Gelu',
    since: 20,
    run: unaryKernel({
      device: (x, ctx) => {
        const mode = ctx.node.attrString('approximate', 'none');
        const half = tf.mul(x, tf.scalar(0.5));
        if (mode === 'none') return tf.mul(half, tf.add(tf.scalar(1), tf.erf(tf.mul(x, tf.scalar(Math.SQRT1_2)))));
        if (mode === 'tanh') {
          const inner = tf.mul(tf.scalar(Math.sqrt(2 / Math.PI)), tf.add(x, tf.mul(tf.scalar(0.044715), tf.pow(x, tf.scalar(3)))));
          return tf.mul(half, tf.add(tf.scalar(1), tf.tanh(inner)));
        }
        throw new ModelError(`${ctx.node.describe()}: approximate='${mode}' is not one of 'none', 'tanh' (opset ${ctx.opset})`);
      },
    }),
  },
];
