/**
 * LpNormalization (ONNX): X divided by its L1 (p = 1) or L2 (p = 2, default) norm along `axis`
 * (default -1).
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { normAxis, required } from '../kernel.js';
import { onDevice } from '../util/device.js';
import { RTensor } from '../value.js';

export const LpNormalization: OpKernel[] = [
  {
    domain: '',
    opType: 'LpNormalization',
    since: 1,
    run: (inputs, ctx) => {
      const X = required(inputs, 0, ctx);
      const axis = normAxis(ctx.node.attrInt('axis', -1), X.rank, ctx);
      const p = ctx.node.attrInt('p', 2);
      if (p !== 1 && p !== 2) throw new ModelError(`${ctx.node.describe()}: p must be 1 or 2, got ${p}`);
      onDevice(X);
      const y = tf.tidy(() => {
        const norm = p === 1 ? tf.sum(tf.abs(X.tf), axis, true) : tf.sqrt(tf.sum(tf.square(X.tf), axis, true));
        return tf.div(X.tf, norm);
      });
      return [RTensor.fromTf(y, X.dataType)];
    },
  },
];
