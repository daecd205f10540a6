/**
 * DepthToSpace (ONNX): moves blocks of channels into spatial blocks, [N, C, H, W] ->
 * [N, C / b^2, H b, W b]. Mode DCR (depth-column-row, the default) reads the block offset from the
 * outer channel bits; CRD (opset 11) from the inner ones. A reshape, a 6-D transpose and a reshape.
 */
import { ModelError } from '../../core/errors.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { reshaped, transposed } from '../util/host.js';
import type { RTensor } from '../value.js';

function depthToSpace(x: RTensor, ctx: KernelContext, mode: string): RTensor[] {
  const b = ctx.node.attrInt('blocksize');
  if (x.rank !== 4 || !b || b < 1 || x.dims[1]! % (b * b) !== 0) {
    throw new ModelError(`${ctx.node.describe()}: needs a 4-D input whose channels divide by blocksize^2 (shape [${x.dims.join(',')}], blocksize ${b})`);
  }
  const [n, c, h, w] = x.dims as [number, number, number, number];
  const c2 = c / (b * b);
  let view: RTensor;
  let perm: number[];
  if (mode === 'DCR') {
    view = reshaped(x, [n, b, b, c2, h, w]);
    perm = [0, 3, 4, 1, 5, 2];
  } else if (mode === 'CRD') {
    view = reshaped(x, [n, c2, b, b, h, w]);
    perm = [0, 1, 4, 2, 5, 3];
  } else {
    throw new ModelError(`${ctx.node.describe()}: mode '${mode}' is not DCR or CRD`);
  }
  const t = transposed(view, perm);
  view.dispose();
  const out = reshaped(t, [n, c2, h * b, w * b]);
  t.dispose();
  return [out];
}

export const DepthToSpace: OpKernel[] = [
  { domain: '', opType: 'DepthToSpace', since: 1, run: (inputs, ctx) => depthToSpace(required(inputs, 0, ctx), ctx, 'DCR') },
  { domain: '', opType: 'DepthToSpace', since: 11, run: (inputs, ctx) => depthToSpace(required(inputs, 0, ctx), ctx, ctx.node.attrString('mode', 'DCR')) },
];
