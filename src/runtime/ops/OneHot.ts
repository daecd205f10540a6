/**
 * OneHot (ONNX, opset 9; negative indices and axis from 11): a new axis of size `depth` at `axis`
 * (default -1) holding values[1] where the index matches and values[0] elsewhere; indices outside
 * [-depth, depth) give an all-off row. The output has the type of `values`.
 */
import { ModelError } from '../../core/errors.js';
import { sizeOf, type TensorData } from '../../ir/tensor.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { allocHost, type Element } from '../util/host.js';
import { readScalar } from '../util/ints.js';
import { RTensor } from '../value.js';

export const OneHot: OpKernel[] = [
  {
    domain: '',
    opType: 'OneHot',
    since: 9,
    run: (inputs, ctx) => {
      const indices = required(inputs, 0, ctx);
      const depth = Math.trunc(readScalar(required(inputs, 1, ctx), 'depth', ctx));
      const values = required(inputs, 2, ctx);
      if (values.size !== 2) throw new ModelError(`${ctx.node.describe()}: 'values' must be [off, on], has ${values.size} elements`);
      if (depth < 1) throw new ModelError(`${ctx.node.describe()}: depth ${depth} must be positive`);
      const outRank = indices.rank + 1;
      const given = ctx.node.attrInt('axis', -1);
      const axis = given < 0 ? given + outRank : given;
      if (axis < 0 || axis >= outRank) throw new ModelError(`${ctx.node.describe()}: axis ${given} is out of range for output rank ${outRank}`);
      const outDims = [...indices.dims.slice(0, axis), depth, ...indices.dims.slice(axis)];
      const idx = indices.numbers();
      const [off, on] = values.host() as unknown as Element[];
      const outer = sizeOf(indices.dims.slice(0, axis));
      const inner = sizeOf(indices.dims.slice(axis));
      const out = allocHost(values.dataType, sizeOf(outDims)) as unknown as Element[];
      for (let o = 0; o < outer; o++) {
        for (let d = 0; d < depth; d++) {
          for (let i = 0; i < inner; i++) {
            let v = idx[o * inner + i]!;
            if (v < 0) v += depth;
            out[(o * depth + d) * inner + i] = v === d ? on! : off!;
          }
        }
      }
      return [RTensor.fromHost(values.dataType, outDims, out as unknown as TensorData)];
    },
  },
];
