/**
 * SpaceToDepth (ONNX): the inverse of DepthToSpace in DCR order, [N, C, H, W] -> [N, C b^2, H / b, W / b].
 */
import { ModelError } from '../../core/errors.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { reshaped, transposed } from '../util/host.js';

export const SpaceToDepth: OpKernel[] = [
  {
    domain: '',
    opType: 'SpaceToDepth',
    since: 1,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      const b = ctx.node.attrInt('blocksize');
      if (x.rank !== 4 || !b || b < 1 || x.dims[2]! % b !== 0 || x.dims[3]! % b !== 0) {
        throw new ModelError(`${ctx.node.describe()}: needs a 4-D input whose height and width divide by blocksize (shape [${x.dims.join(',')}], blocksize ${b})`);
      }
      const [n, c, h, w] = x.dims as [number, number, number, number];
      const view = reshaped(x, [n, c, h / b, b, w / b, b]);
      const t = transposed(view, [0, 3, 5, 1, 2, 4]);
      view.dispose();
      const out = reshaped(t, [n, c * b * b, h / b, w / b]);
      t.dispose();
      return [out];
    },
  },
];
