/**
 * Trilu (ONNX, opset 14): keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two
 * axes and zeroes the rest; k is an optional INT64 input (default 0), `upper` an attribute (default 1).
 */
import { ModelError } from '../../core/errors.js';
import { sizeOf } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { computeOnHost, gatherFlat } from '../util/host.js';
import { RTensor } from '../value.js';

export const Trilu: OpKernel[] = [
  {
    domain: '',
    opType: 'Trilu',
    since: 14,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      if (x.rank < 2) throw new ModelError(`${ctx.node.describe()}: needs rank >= 2, got [${x.dims.join(',')}]`);
      const k = inputs[1] ? inputs[1].numbers()[0]! : 0;
      const upper = ctx.node.attrInt('upper', 1) !== 0;
      const n = x.dims[x.rank - 2]!;
      const m = x.dims[x.rank - 1]!;
      const keep = (i: number, j: number) => (upper ? j - i >= k : j - i <= k);
      if (computeOnHost(x)) {
        const batch = sizeOf(x.dims.slice(0, -2));
        const src = new Int32Array(x.size);
        for (let b = 0; b < batch; b++) for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
          const at = (b * n + i) * m + j;
          src[at] = keep(i, j) ? at : -1;
        }
        return [gatherFlat(x, x.dims.slice(), src, true)];
      }
      const mask = new Uint8Array(n * m);
      for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) mask[i * m + j] = keep(i, j) ? 1 : 0;
      const xt = x.tf;
      const t = tf.tidy(() => tf.where(tf.tensor(mask, [n, m], 'bool'), xt, tf.zerosLike(xt)));
      return [RTensor.fromTf(t, x.dataType)];
    },
  },
];
