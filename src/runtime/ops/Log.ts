/** Log (ONNX): natural logarithm (-inf at 0, NaN below). */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Log kernel of ai.onnx, from opset 1. */
export const Log: OpKernel[] = [
  {
    domain: '',
    opType: 'Log',
    since: 1,
    run: unaryKernel({
      device: (x) => tf.log(x),
    }),
  },
];
