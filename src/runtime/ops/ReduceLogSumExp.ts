/** ReduceLogSumExp (ONNX): log(sum(e^x)) over the reduced axes, computed stably by tfjs as max + log(sum(e^(x - max))) (-inf over an empty set). See util/reduce.ts for axes, keepdims and noop_with_empty_axes. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { reduceKernel, type ReduceSpec } from '../util/reduce.js';

const spec: ReduceSpec = {
  device: (x, axes, keepDims) => tf.logSumExp(x, axes, keepDims),
  empty: -Infinity,
};

/** Before opset 18 the axes are an attribute; since 18 an optional input. */
export const ReduceLogSumExp: OpKernel[] = [
  { domain: '', opType: 'ReduceLogSumExp', since: 1, run: reduceKernel(spec, false) },
  { domain: '', opType: 'ReduceLogSumExp', since: 18, run: reduceKernel(spec, true) },
];
