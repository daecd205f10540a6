/** IsInf (ONNX, since 10): true where x is +inf (if `detect_positive`, default 1) or -inf (if `detect_negative`, default 1). */
import { DataType } from '../../core/dtype.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The IsInf kernel of ai.onnx, from opset 10. */
export const IsInf: OpKernel[] = [
  {
    domain: '',
    opType: 'IsInf',
    since: 10,
    run: unaryKernel({
      outType: () => DataType.BOOL,
      device: (x, ctx) => {
        const pos = ctx.node.attrInt('detect_positive', 1) === 1;
        const neg = ctx.node.attrInt('detect_negative', 1) === 1;
        if (pos && neg) return tf.isInf(x);
        if (pos) return tf.equal(x, tf.scalar(Infinity));
        if (neg) return tf.equal(x, tf.scalar(-Infinity));
        return tf.cast(tf.zerosLike(x), 'bool');
      },
    }),
  },
];
