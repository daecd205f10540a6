/**
 * NonZero (ONNX, opset 9): the coordinates of the non-zero elements, as an INT64 [rank, count] tensor in
 * row-major order (numpy.nonzero stacked). A scalar counts as a 1-element vector, as numpy does.
 */
import { DataType } from '../../core/dtype.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { stridesOf } from '../util/host.js';
import { RTensor } from '../value.js';

export const NonZero: OpKernel[] = [
  {
    domain: '',
    opType: 'NonZero',
    since: 9,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      const dims = x.rank === 0 ? [1] : x.dims;
      const values = x.numbers();
      const hits: number[] = [];
      for (let i = 0; i < values.length; i++) if (values[i] !== 0) hits.push(i);
      const rank = dims.length;
      const strides = stridesOf(dims);
      const out = new BigInt64Array(rank * hits.length);
      hits.forEach((flat, j) => {
        let rest = flat;
        for (let a = 0; a < rank; a++) {
          out[a * hits.length + j] = BigInt(Math.floor(rest / strides[a]!));
          rest %= strides[a]!;
        }
      });
      return [RTensor.fromHost(DataType.INT64, [rank, hits.length], out)];
    },
  },
];
