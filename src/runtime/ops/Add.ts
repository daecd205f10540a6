/** Add (ONNX): A + B with broadcasting. Integers wrap modulo 2^bits as in onnxruntime's C++ kernels. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { binaryKernel, versions, type BinarySpec } from '../util/elementwise.js';

const spec: BinarySpec = {
  host: { num: (a, b) => a + b, big: (a, b) => a + b },
  device: (a, b) => tf.add(a, b),
};

/** Opset 1-6: B broadcast onto A only with `broadcast=1` (at `axis`); since 7: numpy broadcasting. */
export const Add: OpKernel[] = versions('Add', [
  [1, binaryKernel(spec, true)],
  [7, binaryKernel(spec)],
]);
