/** CastLike (ONNX, since 15): casts the first input to the type of the second (`saturate` since 19, as Cast). */
import type { OpKernel } from '../kernel.js';
import { alias, required } from '../kernel.js';
import { castTo } from '../util/cast.js';

/** The CastLike kernel of ai.onnx, from opset 15. */
export const CastLike: OpKernel[] = [
  {
    domain: '',
    opType: 'CastLike',
    since: 15,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      const to = required(inputs, 1, ctx).dataType;
      if (to === x.dataType) return [alias(x)];
      return [castTo(x, to, ctx.node.attrInt('saturate', 1) === 1, ctx.training)];
    },
  },
];
