/**
 * Max (ONNX): the elementwise maximum of all inputs, broadcast together. Integer types (since opset 12)
 * are compared exactly on the host when host-resident. NaN propagates, as in onnxruntime (tfjs-wasm's
 * maximum drops a NaN in its second operand); not in training, where the isNaN test would have no gradient.
 */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { variadicKernel } from '../util/elementwise.js';

/** The Max kernel of ai.onnx, from opset 1. */
export const Max: OpKernel[] = [
  {
    domain: '',
    opType: 'Max',
    since: 1,
    run: variadicKernel({ host: { num: (a, b) => (a >= b ? a : b), big: (a, b) => (a >= b ? a : b) }, device: (a, b, _t, ctx) => (a.dtype === 'float32' && !ctx.training ? tf.where(tf.isNaN(b), b, tf.maximum(a, b)) : tf.maximum(a, b)) }),
  },
];
