/** Sqrt (ONNX): square root (NaN below zero). */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Sqrt kernel of ai.onnx, from opset 1. */
export const Sqrt: OpKernel[] = [
  {
    domain: '',
    opType: 'Sqrt',
    since: 1,
    run: unaryKernel({
      device: (x) => tf.sqrt(x),
    }),
  },
];
