/**
 * Cast (ONNX): converts to the type in `to` (see util/cast.ts for the conversion rules). In opset 1 `to`
 * was the type's name ("FLOAT"); since 6 it is the TensorProto.DataType number. Since 19 `saturate`
 * (default 1) chooses between clamping and inf/NaN for out-of-range float8 results.
 */
import { DataType, dataTypeName } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { AttrType } from '../../ir/attribute.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { alias, required } from '../kernel.js';
import { castTo } from '../util/cast.js';

/** The target type of a Cast node: an INT attribute, or the type's name before opset 6. */
function targetType(ctx: KernelContext): number {
  const a = ctx.node.attr('to');
  let to: number | undefined;
  if (a?.type === AttrType.STRING) to = (DataType as Record<string, number>)[a.value.toUpperCase()];
  else if (a?.type === AttrType.INT) to = Number(a.value);
  if (to === undefined || dataTypeName(to).startsWith('DataType(') || to === DataType.UNDEFINED || to === DataType.COMPLEX64 || to === DataType.COMPLEX128) {
    throw new ModelError(`${ctx.node.describe()}: unsupported or missing 'to' type ${a ? String(a.value) : ''} (opset ${ctx.opset})`);
  }
  return to;
}

/** The Cast kernel of ai.onnx, from opset 1. */
export const Cast: OpKernel[] = [
  {
    domain: '',
    opType: 'Cast',
    since: 1,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      const to = targetType(ctx);
      if (to === x.dataType) return [alias(x)];
      return [castTo(x, to, ctx.node.attrInt('saturate', 1) === 1, ctx.training)];
    },
  },
];
