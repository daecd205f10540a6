/** Softsign (ONNX): x / (1 + |x|). */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Softsign kernel of ai.onnx, from opset 1. */
export const Softsign: OpKernel[] = [
  { domain: '', opType: 'Softsign', since: 1, run: unaryKernel({ device: (x) => tf.div(x, tf.add(tf.abs(x), tf.scalar(1))) }) },
];
