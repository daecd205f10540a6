/** GlobalMaxPool (ONNX): the maximum over all spatial axes of X [N, C, *spatial] -> [N, C, 1, ...]. */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { onDevice } from '../util/device.js';
import { RTensor } from '../value.js';

export const GlobalMaxPool: OpKernel[] = [
  {
    domain: '',
    opType: 'GlobalMaxPool',
    since: 1,
    run: (inputs, ctx) => {
      const X = required(inputs, 0, ctx);
      if (X.rank < 3) throw new ModelError(`${ctx.node.describe()}: X must be [N, C, *spatial], got [${X.dims.join(',')}]`);
      const [n, c] = X.dims as [number, number];
      onDevice(X);
      if (X.channelsLast) {
        // One pooling window over all of [N, H, W, C]: XNNPACK's pool, no transpose (a max over axes 1
        // and 2 would transpose them inside).
        const [, h, w] = X.nhwc().shape;
        return [RTensor.fromNhwc(tf.tidy(() => tf.maxPool(X.nhwc(), [h, w], 1, 'valid')), X.dataType)];
      }
      const y = tf.tidy(() => tf.reshape(tf.max(tf.reshape(X.tf, [n, c, -1]), 2), [n, c, ...X.dims.slice(2).map(() => 1)]));
      return [RTensor.fromTf(y, X.dataType)];
    },
  },
];
