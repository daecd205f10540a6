/**
 * LRN (ONNX): local response normalisation across channels (Krizhevsky et al., "ImageNet Classification
 * with Deep Convolutional Neural Networks", 2012, section 3.3):
 * Y[n, c] = X[n, c] / (bias + alpha / size * sum of X[n, c']^2 for c' in
 * [c - floor((size - 1) / 2), c + ceil((size - 1) / 2)])^beta.
 * The window sum is `size` shifted slices of the channel-padded squares, in NCHW, no layout change.
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { onDevice } from '../util/device.js';
import { RTensor } from '../value.js';

export const LRN: OpKernel[] = [
  {
    domain: '',
    opType: 'LRN',
    since: 1,
    run: (inputs, ctx) => {
      const X = required(inputs, 0, ctx);
      const node = ctx.node;
      const size = node.attrInt('size');
      if (size === undefined || size < 1) throw new ModelError(`${node.describe()}: attribute 'size' must be a positive int`);
      if (X.rank < 3) throw new ModelError(`${node.describe()}: X must be [N, C, *spatial], got [${X.dims.join(',')}]`);
      const alpha = node.attrFloat('alpha', 1e-4);
      const beta = node.attrFloat('beta', 0.75);
      const bias = node.attrFloat('bias', 1);
      const [n, c] = X.dims as [number, number];
      const before = Math.floor((size - 1) / 2);
      const after = size - 1 - before;
      onDevice(X);
      const y = tf.tidy(() => {
        const x3 = tf.reshape(X.tf, [n, c, -1]);
        const sq = tf.pad(tf.square(x3), [
          [0, 0],
          [before, after],
          [0, 0],
        ]);
        let sum = tf.slice(sq, [0, 0, 0], [n, c, -1]);
        for (let k = 1; k < size; k++) sum = tf.add(sum, tf.slice(sq, [0, k, 0], [n, c, -1]));
        const denom = tf.pow(tf.add(tf.mul(sum, alpha / size), bias), beta);
        return tf.reshape(tf.div(x3, denom), X.dims);
      });
      return [RTensor.fromTf(y, X.dataType)];
    },
  },
];
