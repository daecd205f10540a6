/** Round (ONNX): nearest integer, halves to even (as std::nearbyint in onnxruntime; tf.round rounds half to even too). */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Round kernel of ai.onnx, from opset 11. */
export const Round: OpKernel[] = [
  {
    domain: '',
    opType: 'Round',
    since: 11,
    run: unaryKernel({
      device: (x) => tf.round(x),
    }),
  },
];
