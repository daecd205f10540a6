/** Neg (ONNX): -x. Integers (int64 exactly, on the host) wrap as in C++: -(-128) is -128 in int8. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Neg kernel of ai.onnx, from opset 1. */
export const Neg: OpKernel[] = [
  {
    domain: '',
    opType: 'Neg',
    since: 1,
    run: unaryKernel({
      host: { num: (a) => -a, big: (a) => -a },
      // tfjs's int32 Neg goes through float32 on wasm; 0 - x is exact int32 arithmetic.
      device: (x) => (x.dtype === 'int32' ? tf.sub(tf.scalar(0, 'int32'), x) : tf.neg(x)),
    }),
  },
];
