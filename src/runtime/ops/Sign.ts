/** Sign (ONNX): -1, 0 or 1 by the sign of x (NaN stays NaN). */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Sign kernel of ai.onnx, from opset 9. */
export const Sign: OpKernel[] = [
  {
    domain: '',
    opType: 'Sign',
    since: 9,
    run: unaryKernel({
      host: { num: (a) => Math.sign(a), big: (a) => (a > 0n ? 1n : a < 0n ? -1n : 0n) },
      // tf.sign maps NaN to 0; onnxruntime keeps NaN (not in training: isNaN has no gradient).
      device: (x, ctx) => (x.dtype === 'float32' && !ctx.training ? tf.where(tf.isNaN(x), x, tf.sign(x)) : tf.sign(x)),
    }),
  },
];
