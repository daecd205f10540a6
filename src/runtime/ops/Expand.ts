/**
 * Expand (ONNX, opset 8): broadcasts the input to numpy-broadcast(input dims, shape). Unlike Reshape,
 * a 1 in `shape` keeps the input's dim, so the output can be larger than `shape`.
 */
import { sizeOf } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { broadcastDims, broadcastIndex, computeOnHostFor, gatherFlat, reshaped } from '../util/host.js';
import { readInts } from '../util/ints.js';
import { RTensor } from '../value.js';

export const Expand: OpKernel[] = [
  {
    domain: '',
    opType: 'Expand',
    since: 8,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      const outDims = broadcastDims(x.dims, readInts(required(inputs, 1, ctx)), ctx);
      if (sizeOf(outDims) === x.size) return [reshaped(x, outDims)];
      if (computeOnHostFor(sizeOf(outDims), x)) return [gatherFlat(x, outDims, broadcastIndex(x.dims, outDims), true)];
      const padded = [...new Array<number>(outDims.length - x.rank).fill(1), ...x.dims];
      const xt = x.tf;
      const t = tf.tidy(() => tf.broadcastTo(tf.reshape(xt, padded), outDims));
      return [RTensor.fromTf(t, x.dataType)];
    },
  },
];
