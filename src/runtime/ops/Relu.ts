/** Relu (ONNX): max(x, 0). Since opset 14 also for integer types, exact on the host. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Relu kernel of ai.onnx, from opset 1. */
export const Relu: OpKernel[] = [
  {
    domain: '',
    opType: 'Relu',
    since: 1,
    run: unaryKernel({
      host: { num: (a) => Math.max(a, 0), big: (a) => (a > 0n ? a : 0n) },
      device: (x) => tf.relu(x),
    }),
  },
];
