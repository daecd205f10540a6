/** ReduceMean (ONNX): the mean over the reduced axes (integers: the truncated mean; 0 over an empty set, as onnxruntime gives). See util/reduce.ts for axes, keepdims and noop_with_empty_axes. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { reduceKernel, type ReduceSpec } from '../util/reduce.js';

const spec: ReduceSpec = {
  host: {
    init: (big) => (big ? 0n : 0),
    step: (acc, v) => (acc as number) + (v as number),
    finish: (acc, count, big) => (big ? (acc as bigint) / BigInt(count) : Math.trunc((acc as number) / count)),
  },
  device: (x, axes, keepDims) => tf.mean(x, axes, keepDims),
  empty: 0,
};

/** Before opset 18 the axes are an attribute; since 18 an optional input. */
export const ReduceMean: OpKernel[] = [
  { domain: '', opType: 'ReduceMean', since: 1, run: reduceKernel(spec, false) },
  { domain: '', opType: 'ReduceMean', since: 18, run: reduceKernel(spec, true) },
];
