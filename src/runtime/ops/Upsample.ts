/**
 * Upsample (ONNX opsets 7-9, deprecated at 10 for Resize): nearest or (bi/tri)linear upsampling by
 * `scales` (an attribute at 7, an input from 9) on asymmetric coordinates; the same maths as Resize-10.
 */
import { ModelError } from '../../core/errors.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { resizeLegacy } from './Resize.js';

export const Upsample: OpKernel[] = [
  {
    domain: '',
    opType: 'Upsample',
    since: 7,
    run: (inputs, ctx) => {
      const scales = ctx.node.attrFloats('scales');
      if (!scales) throw new ModelError(`${ctx.node.describe()} (opset ${ctx.opset}) needs the 'scales' attribute`);
      return resizeLegacy(required(inputs, 0, ctx), scales, ctx);
    },
  },
  { domain: '', opType: 'Upsample', since: 9, run: (inputs, ctx) => resizeLegacy(required(inputs, 0, ctx), required(inputs, 1, ctx).numbers(), ctx) },
];
