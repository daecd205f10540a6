/** Abs (ONNX): |x|. Integers are exact on the host; the most negative value stays itself, as in C++. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Abs kernel of ai.onnx, from opset 1. */
export const Abs: OpKernel[] = [
  {
    domain: '',
    opType: 'Abs',
    since: 1,
    run: unaryKernel({
      host: { num: (a) => Math.abs(a), big: (a) => (a < 0n ? -a : a) },
      // tfjs's int32 Abs goes through float32 (16777217 -> 16777216); select x or 0 - x instead.
      device: (x) => (x.dtype === 'int32' ? tf.where(tf.less(x, tf.scalar(0, 'int32')), tf.sub(tf.scalar(0, 'int32'), x), x) : tf.abs(x)),
    }),
  },
];
