/** Mul (ONNX): A * B with broadcasting. Integers wrap modulo 2^bits as in onnxruntime's C++ kernels. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { binaryKernel, versions, type BinarySpec } from '../util/elementwise.js';

const spec: BinarySpec = {
  // Math.imul keeps the low 32 bits exactly, where a double product of two int32s would round beyond 2^53;
  // storing into the ONNX type's typed array then wraps to 8/16 bits or reinterprets as unsigned.
  host: { num: (a, b) => Math.imul(a, b), big: (a, b) => a * b },
  device: (a, b) => tf.mul(a, b),
};

/** Opset 1-6: B broadcast onto A only with `broadcast=1` (at `axis`); since 7: numpy broadcasting. */
export const Mul: OpKernel[] = versions('Mul', [
  [1, binaryKernel(spec, true)],
  [7, binaryKernel(spec)],
]);
