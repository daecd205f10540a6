/** Sin (ONNX): sine. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Sin kernel of ai.onnx, from opset 7. */
export const Sin: OpKernel[] = [
  {
    domain: '',
    opType: 'Sin',
    since: 7,
    run: unaryKernel({
      device: (x) => tf.sin(x),
    }),
  },
];
