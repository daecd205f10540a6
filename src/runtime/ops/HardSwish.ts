/** HardSwish (ONNX, since 14): x * max(0, min(1, x / 6 + 0.5)) (Howard et al. 2019, MobileNetV3). */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { clamp, unaryKernel } from '../util/elementwise.js';

/** The HardSwish kernel of ai.onnx, from opset 14. */
export const HardSwish: OpKernel[] = [
  {
    domain: '',
    opType: 'HardSwish',
    since: 14,
    run: unaryKernel({
      device: (x) => tf.mul(x, clamp(tf.add(tf.mul(x, tf.scalar(1 / 6)), tf.scalar(0.5)), 0, 1)),
    }),
  },
];
