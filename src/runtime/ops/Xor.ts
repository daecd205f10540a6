/** Xor (ONNX): logical exclusive or of BOOL tensors with broadcasting. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { binaryKernel, versions, type BinarySpec } from '../util/elementwise.js';

const spec: BinarySpec = {
  host: { num: (a, b) => (a !== 0) !== (b !== 0) },
  device: (a, b) => tf.logicalXor(a, b),
};

/** Opset 1-6: B broadcast onto A only with `broadcast=1` (at `axis`); since 7: numpy broadcasting. */
export const Xor: OpKernel[] = versions('Xor', [
  [1, binaryKernel(spec, true)],
  [7, binaryKernel(spec)],
]);
