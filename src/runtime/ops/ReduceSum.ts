/** ReduceSum (ONNX): the sum over the reduced axes (0 over an empty set). See util/reduce.ts for axes, keepdims and noop_with_empty_axes. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { reduceKernel, type ReduceSpec } from '../util/reduce.js';

const spec: ReduceSpec = {
  host: {
    init: (big) => (big ? 0n : 0),
    step: (acc, v) => (acc as number) + (v as number),
  },
  device: (x, axes, keepDims) => tf.sum(x, axes, keepDims),
  empty: 0,
};

/** Before opset 13 the axes are an attribute; since 13 an optional input. */
export const ReduceSum: OpKernel[] = [
  { domain: '', opType: 'ReduceSum', since: 1, run: reduceKernel(spec, false) },
  { domain: '', opType: 'ReduceSum', since: 13, run: reduceKernel(spec, true) },
];
