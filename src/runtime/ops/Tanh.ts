/** Tanh (ONNX): hyperbolic tangent. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Tanh kernel of ai.onnx, from opset 1. */
export const Tanh: OpKernel[] = [
  {
    domain: '',
    opType: 'Tanh',
    since: 1,
    run: unaryKernel({
      device: (x) => tf.tanh(x),
    }),
  },
];
