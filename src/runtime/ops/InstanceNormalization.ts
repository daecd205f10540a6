/**
 * InstanceNormalization (ONNX): for each (n, c), normalise X over its spatial axes with their mean and
 * variance, then apply scale[c] and B[c]: Y = (X - mean) / sqrt(var + epsilon) * scale + B.
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { onDevice } from '../util/device.js';
import { RTensor } from '../value.js';

export const InstanceNormalization: OpKernel[] = [
  {
    domain: '',
    opType: 'InstanceNormalization',
    since: 1,
    run: (inputs, ctx) => {
      const X = required(inputs, 0, ctx);
      const scale = required(inputs, 1, ctx);
      const B = required(inputs, 2, ctx);
      if (X.rank < 3) throw new ModelError(`${ctx.node.describe()}: X must be [N, C, *spatial], got [${X.dims.join(',')}]`);
      const [n, c] = X.dims as [number, number];
      const eps = ctx.node.attrFloat('epsilon', 1e-5);
      onDevice(X, scale, B);
      const y = tf.tidy(() => {
        const x3 = tf.reshape(X.tf, [n, c, -1]);
        const m = tf.moments(x3, 2, true);
        const normed = tf.mul(tf.sub(x3, m.mean), tf.rsqrt(tf.add(m.variance, eps)));
        const out = tf.add(tf.mul(normed, tf.reshape(scale.tf, [c, 1])), tf.reshape(B.tf, [c, 1]));
        return tf.reshape(out, X.dims);
      });
      return [RTensor.fromTf(y, X.dataType)];
    },
  },
];
