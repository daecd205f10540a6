/**
 * PRelu (ONNX): x for x >= 0, slope * x below, with the slope broadcast onto x (He et al. 2015). Computed
 * as max(x, 0) + slope * min(x, 0), which has no select for gradients to trip over.
 *
 * Since opset 7 the slope broadcasts numpy-style (unidirectionally). Before 7 the spec only says a
 * one-element slope is shared across channels; exporters of that era (Caffe2) wrote per-channel slopes of
 * shape [C] for [N, C, ...] inputs, which is read here as [C, 1, ...].
 */
import { tf } from '../backend.js';
import type { Kernel, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { binary, type BinarySpec } from '../util/elementwise.js';

const spec: BinarySpec = {
  host: { num: (x, s) => (x < 0 ? Math.imul(x, s) : x), big: (x, s) => (x < 0n ? x * s : x) },
  device: (x, s) => {
    const zero = tf.scalar(0, x.dtype);
    return tf.add(tf.maximum(x, zero), tf.mul(s, tf.minimum(x, zero)));
  },
};

function prelu(legacy: boolean): Kernel {
  return (inputs, ctx) => {
    const x = required(inputs, 0, ctx);
    const s = required(inputs, 1, ctx);
    let sDims = s.dims;
    if (legacy && s.rank === 1 && x.rank > 2 && s.dims[0] === x.dims[1]) {
      sDims = [s.dims[0]!, ...new Array<number>(x.rank - 2).fill(1)];
    }
    return [binary(x, s, spec, ctx, sDims)];
  };
}

/** Opset 1-6: per-channel slopes of shape [C] allowed; since 7: numpy broadcasting of the slope. */
export const PRelu: OpKernel[] = [
  { domain: '', opType: 'PRelu', since: 1, run: prelu(true) },
  { domain: '', opType: 'PRelu', since: 7, run: prelu(false) },
];
