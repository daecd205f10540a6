/** Floor (ONNX): the largest integer <= x. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Floor kernel of ai.onnx, from opset 1. */
export const Floor: OpKernel[] = [
  {
    domain: '',
    opType: 'Floor',
    since: 1,
    run: unaryKernel({
      device: (x) => tf.floor(x),
    }),
  },
];
