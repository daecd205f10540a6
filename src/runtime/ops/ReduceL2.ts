/** ReduceL2 (ONNX): the Euclidean norm over the reduced axes, sqrt(sum(x^2)) (0 over an empty set). See util/reduce.ts for axes, keepdims and noop_with_empty_axes. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { reduceKernel, type ReduceSpec } from '../util/reduce.js';

const spec: ReduceSpec = {
  device: (x, axes, keepDims) => tf.sqrt(tf.sum(tf.square(x), axes, keepDims)),
  empty: 0,
};

/** Before opset 18 the axes are an attribute; since 18 an optional input. */
export const ReduceL2: OpKernel[] = [
  { domain: '', opType: 'ReduceL2', since: 1, run: reduceKernel(spec, false) },
  { domain: '', opType: 'ReduceL2', since: 18, run: reduceKernel(spec, true) },
];
