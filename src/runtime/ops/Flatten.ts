/**
 * Flatten (ONNX): views the input as 2-D [prod(dims[:axis]), prod(dims[axis:])]; `axis` in [-rank, rank]
 * (negative from opset 11), default 1.
 */
import { ModelError } from '../../core/errors.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { reshaped } from '../util/host.js';

export const Flatten: OpKernel[] = [
  {
    domain: '',
    opType: 'Flatten',
    since: 1,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      const rank = x.rank;
      const given = ctx.node.attrInt('axis', 1);
      const axis = given < 0 ? given + rank : given;
      if (axis < 0 || axis > rank) throw new ModelError(`${ctx.node.describe()}: axis ${given} is out of range for rank ${rank}`);
      const outer = x.dims.slice(0, axis).reduce((a, b) => a * b, 1);
      const inner = x.dims.slice(axis).reduce((a, b) => a * b, 1);
      return [reshaped(x, [outer, inner])];
    },
  },
];
