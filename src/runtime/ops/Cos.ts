/** Cos (ONNX): cosine. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Cos kernel of ai.onnx, from opset 7. */
export const Cos: OpKernel[] = [
  {
    domain: '',
    opType: 'Cos',
    since: 7,
    run: unaryKernel({
      device: (x) => tf.cos(x),
    }),
  },
];
