/**
 * Expand (ONNX, opset 8): broadcasts the input to numpy-broadcast(input dims, shape). Unlike Reshape,
 * a 1 in `shape` keeps the input's dim, so the output can be larger than `shape`.
 *
 * Runs of kept axes and runs of broadcast axes are merged first, so the broadcast runs at the smallest
 * rank: tfjs's broadcastTo is a Tile, whose gradient tfjs has only up to rank 4, and the key/value
 * repeat of grouped-query attention ([batch, kv, 1, seq, dim] -> [batch, kv, groups, seq, dim], in every
 * Llama export) is rank 5, which training (distill) differentiates.
 */
import { sizeOf } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { broadcastDims, broadcastIndex, computeOnHostFor, gatherFlat, reshaped } from '../util/host.js';
import { readInts } from '../util/ints.js';
import { RTensor } from '../value.js';

/**
 * The same broadcast at the lowest rank: consecutive axes that are all kept (input dim = output dim) or
 * all broadcast (input dim 1) become one axis each.
 */
export function mergeRuns(padded: readonly number[], out: readonly number[]): { from: number[]; to: number[] } {
  const from: number[] = [];
  const to: number[] = [];
  let last: boolean | undefined;
  padded.forEach((d, i) => {
    const kept = d === out[i];
    if (kept === last) {
      from[from.length - 1]! *= d;
      to[to.length - 1]! *= out[i]!;
    } else {
      from.push(d);
      to.push(out[i]!);
      last = kept;
    }
  });
  return { from, to };
}

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
      const { from, to } = mergeRuns(padded, outDims);
      const xt = x.tf;
      const t = tf.tidy(() => tf.reshape(tf.broadcastTo(tf.reshape(xt, from), to), outDims));
      return [RTensor.fromTf(t, x.dataType)];
    },
  },
];
