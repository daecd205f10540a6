/** ReduceMin (ONNX): the minimum over the reduced axes (the type's highest value over an empty set). See util/reduce.ts for axes, keepdims and noop_with_empty_axes. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { reduceKernel, type ReduceSpec } from '../util/reduce.js';

const spec: ReduceSpec = {
  host: {
    init: (big) => (big ? 2n ** 64n : Infinity),
    step: (acc, v) => (v < acc ? v : acc),
  },
  device: (x, axes, keepDims) => tf.min(x, axes, keepDims),
  empty: 'highest',
};

/** Before opset 18 the axes are an attribute; since 18 an optional input. */
export const ReduceMin: OpKernel[] = [
  { domain: '', opType: 'ReduceMin', since: 1, run: reduceKernel(spec, false) },
  { domain: '', opType: 'ReduceMin', since: 18, run: reduceKernel(spec, true) },
];
