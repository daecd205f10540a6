/** Sum (ONNX): the elementwise sum of all inputs, broadcast together (since opset 8; equal shapes before). */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { variadicKernel } from '../util/elementwise.js';

/** The Sum kernel of ai.onnx, from opset 1. */
export const Sum: OpKernel[] = [
  {
    domain: '',
    opType: 'Sum',
    since: 1,
    run: variadicKernel({ host: { num: (a, b) => a + b, big: (a, b) => a + b }, device: (a, b) => tf.add(a, b) }),
  },
];
