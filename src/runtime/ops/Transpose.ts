/** Transpose (ONNX): permutes the axes by `perm` (default: reversed). */
import { ModelError } from '../../core/errors.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { transposed } from '../util/host.js';

export const Transpose: OpKernel[] = [
  {
    domain: '',
    opType: 'Transpose',
    since: 1,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      const rank = x.rank;
      const perm = ctx.node.attrInts('perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
      const ok = perm.length === rank && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
      if (!ok) throw new ModelError(`${ctx.node.describe()}: perm [${perm.join(',')}] is not a permutation of ${rank} axes`);
      return [transposed(x, perm)];
    },
  },
];
