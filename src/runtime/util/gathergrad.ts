/**
 * tf.gather with a gradient every backend can run. tfjs's own gradient of Gather scatters dy back with
 * UnsortedSegmentSum, a kernel the wasm backend lacks, so training an embedding table (Gather on an
 * initializer) fails there. This gradient scatters with ScatterNd instead (which the wasm backend has and
 * which sums the rows of repeated indices, as the gradient needs): the gathered axis is moved first, dy
 * becomes one row per index, and ScatterNd adds each row into a zero table.
 */
import { tf } from '../backend.js';

/**
 * tf.gather(x, idx, axis) (idx int32, in range, any shape) as a differentiable function of x.
 * Call inside a tidy.
 */
export function gatherWithGrad(x: tf.Tensor, idx: tf.Tensor, axis: number): tf.Tensor {
  const outer = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const dim = x.shape[axis]!;
  const inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const k = idx.size;
  const outShape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, ii, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const flatIdx = tf.reshape(ii, [k]);
    save([flatIdx]);
    return {
      value: tf.reshape(tf.gather(tf.reshape(xi, [outer, dim, inner]), flatIdx, 1), outShape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const rows = tf.reshape(tf.transpose(tf.reshape(dy, [outer, k, inner]), [1, 0, 2]), [k, outer * inner]);
        const table = tf.scatterND(tf.reshape(saved[0]!, [k, 1]), rows, [dim, outer * inner]);
        const dx = tf.reshape(tf.transpose(tf.reshape(table, [dim, outer, inner]), [1, 0, 2]), x.shape);
        return [dx, tf.zerosLike(saved[0]!)];
      },
    };
  });
  return op(x, idx);
}
