/** Exp (ONNX): e^x. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Exp kernel of ai.onnx, from opset 1. */
export const Exp: OpKernel[] = [
  {
    domain: '',
    opType: 'Exp',
    since: 1,
    run: unaryKernel({
      device: (x) => tf.exp(x),
    }),
  },
];
