/**
 * Reshape (ONNX). The target shape is an attribute before opset 5 and an INT64 input from 5. In it, -1
 * means "whatever is left" (at most once) and 0 means "copy this input dim" unless `allowzero` (opset
 * 14) is set, when 0 is a literal zero-sized dim. The data is shared, never copied.
 */
import { ModelError } from '../../core/errors.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { reshaped } from '../util/host.js';
import { readInts } from '../util/ints.js';
import type { RTensor } from '../value.js';

/** Resolves ONNX's 0 and -1 entries of a requested shape against the input dims. */
export function resolveShape(inDims: readonly number[], requested: readonly number[], allowZero: boolean, ctx: KernelContext): number[] {
  const total = inDims.reduce((a, b) => a * b, 1);
  let inferAt = -1;
  let known = 1;
  const out = requested.map((d, i) => {
    if (d === -1) {
      if (inferAt >= 0) throw new ModelError(`${ctx.node.describe()}: the shape [${requested.join(',')}] has more than one -1`);
      inferAt = i;
      return -1;
    }
    if (d < -1) throw new ModelError(`${ctx.node.describe()}: invalid dim ${d} in shape [${requested.join(',')}]`);
    const v = d === 0 && !allowZero ? inDims[i] : d;
    if (v === undefined) throw new ModelError(`${ctx.node.describe()}: shape [${requested.join(',')}] copies dim ${i} (0), but the input has rank ${inDims.length}`);
    known *= v;
    return v;
  });
  if (inferAt >= 0) {
    if (known === 0 || total % known !== 0) throw new ModelError(`${ctx.node.describe()}: cannot reshape [${inDims.join(',')}] to [${requested.join(',')}]`);
    out[inferAt] = total / known;
  } else if (known !== total) {
    throw new ModelError(`${ctx.node.describe()}: cannot reshape [${inDims.join(',')}] (${total} elements) to [${out.join(',')}]`);
  }
  return out;
}

function reshape(x: RTensor, requested: number[], ctx: KernelContext): RTensor[] {
  return [reshaped(x, resolveShape(x.dims, requested, ctx.node.attrInt('allowzero', 0) !== 0, ctx))];
}

export const Reshape: OpKernel[] = [
  {
    domain: '',
    opType: 'Reshape',
    since: 1,
    run: (inputs, ctx) => {
      const shape = ctx.node.attrInts('shape');
      if (!shape) throw new ModelError(`${ctx.node.describe()} (opset ${ctx.opset}) needs the 'shape' attribute`);
      return reshape(required(inputs, 0, ctx), shape, ctx);
    },
  },
  { domain: '', opType: 'Reshape', since: 5, run: (inputs, ctx) => reshape(required(inputs, 0, ctx), readInts(required(inputs, 1, ctx)), ctx) },
];
