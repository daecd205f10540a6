/** LeakyRelu (ONNX): x for x >= 0, alpha * x below (alpha 0.01 by default). */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The LeakyRelu kernel of ai.onnx, from opset 1. */
export const LeakyRelu: OpKernel[] = [
  {
    domain: '',
    opType: 'LeakyRelu',
    since: 1,
    run: unaryKernel({ device: (x, ctx) => tf.leakyRelu(x, ctx.node.attrFloat('alpha', 0.01)) }),
  },
];
