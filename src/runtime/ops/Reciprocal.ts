/** Reciprocal (ONNX): 1/x. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Reciprocal kernel of ai.onnx, from opset 1. */
export const Reciprocal: OpKernel[] = [
  {
    domain: '',
    opType: 'Reciprocal',
    since: 1,
    run: unaryKernel({
      device: (x) => tf.reciprocal(x),
    }),
  },
];
