/** Sigmoid (ONNX): 1 / (1 + e^-x). */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Sigmoid kernel of ai.onnx, from opset 1. */
export const Sigmoid: OpKernel[] = [
  {
    domain: '',
    opType: 'Sigmoid',
    since: 1,
    run: unaryKernel({
      device: (x) => tf.sigmoid(x),
    }),
  },
];
