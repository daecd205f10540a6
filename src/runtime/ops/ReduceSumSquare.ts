/** ReduceSumSquare (ONNX): the sum of squares over the reduced axes (0 over an empty set). See util/reduce.ts for axes, keepdims and noop_with_empty_axes. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { reduceKernel, type ReduceSpec } from '../util/reduce.js';

const spec: ReduceSpec = {
  host: {
    init: (big) => (big ? 0n : 0),
    step: (acc, v, big) => (big ? BigInt.asIntN(64, (acc as bigint) + (v as bigint) * (v as bigint)) : (acc as number) + Math.imul(v as number, v as number)),
  },
  device: (x, axes, keepDims) => tf.sum(tf.square(x), axes, keepDims),
  empty: 0,
};

/** Before opset 18 the axes are an attribute; since 18 an optional input. */
export const ReduceSumSquare: OpKernel[] = [
  { domain: '', opType: 'ReduceSumSquare', since: 1, run: reduceKernel(spec, false) },
  { domain: '', opType: 'ReduceSumSquare', since: 18, run: reduceKernel(spec, true) },
];
