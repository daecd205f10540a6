/** Ceil (ONNX): the smallest integer >= x. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Ceil kernel of ai.onnx, from opset 1. */
export const Ceil: OpKernel[] = [
  {
    domain: '',
    opType: 'Ceil',
    since: 1,
    run: unaryKernel({
      device: (x) => tf.ceil(x),
    }),
  },
];
