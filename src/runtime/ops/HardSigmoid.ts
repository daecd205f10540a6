/** HardSigmoid (ONNX): max(0, min(1, alpha * x + beta)), alpha 0.2 and beta 0.5 by default. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { clamp, unaryKernel } from '../util/elementwise.js';

/** The HardSigmoid kernel of ai.onnx, from opset 1. */
export const HardSigmoid: OpKernel[] = [
  {
    domain: '',
    opType: 'HardSigmoid',
    since: 1,
    run: unaryKernel({
      device: (x, ctx) => clamp(tf.add(tf.mul(x, tf.scalar(ctx.node.attrFloat('alpha', 0.2))), tf.scalar(ctx.node.attrFloat('beta', 0.5))), 0, 1),
    }),
  },
];
