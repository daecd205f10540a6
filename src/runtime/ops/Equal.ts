/** Equal (ONNX): A == B elementwise with broadcasting, giving BOOL. Integers (int64 exactly) and strings (since opset 19) compare on the host. */
import { DataType } from '../../core/dtype.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { binaryKernel, versions, type BinarySpec } from '../util/elementwise.js';

const spec: BinarySpec = {
  outType: () => DataType.BOOL,
  host: { num: (a, b) => a === b, big: (a, b) => a === b, str: (a, b) => a.length === b.length && a.every((v, i) => v === b[i]) },
  device: (a, b) => tf.equal(a, b),
};

/** Opset 1-6: B broadcast onto A only with `broadcast=1` (at `axis`); since 7: numpy broadcasting. */
export const Equal: OpKernel[] = versions('Equal', [
  [1, binaryKernel(spec, true)],
  [7, binaryKernel(spec)],
]);
