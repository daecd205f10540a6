/** ReduceProd (ONNX): the product over the reduced axes (1 over an empty set). Integers wrap modulo 2^bits. See util/reduce.ts for axes, keepdims and noop_with_empty_axes. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { reduceKernel, type ReduceSpec } from '../util/reduce.js';

const spec: ReduceSpec = {
  host: {
    init: (big) => (big ? 1n : 1),
    // Math.imul keeps the low 32 bits exactly; the output array then wraps to the type's width.
    step: (acc, v, big) => (big ? BigInt.asIntN(64, (acc as bigint) * (v as bigint)) : Math.imul(acc as number, v as number)),
  },
  device: (x, axes, keepDims) => tf.prod(x, axes, keepDims),
  empty: 1,
};

/** Before opset 18 the axes are an attribute; since 18 an optional input. */
export const ReduceProd: OpKernel[] = [
  { domain: '', opType: 'ReduceProd', since: 1, run: reduceKernel(spec, false) },
  { domain: '', opType: 'ReduceProd', since: 18, run: reduceKernel(spec, true) },
];
