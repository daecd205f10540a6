/** Less (ONNX): A < B elementwise with broadcasting, giving BOOL (NaN compares false). */
import { DataType } from '../../core/dtype.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { binaryKernel, versions, type BinarySpec } from '../util/elementwise.js';

const spec: BinarySpec = {
  outType: () => DataType.BOOL,
  host: { num: (a, b) => a < b, big: (a, b) => a < b },
  device: (a, b) => tf.less(a, b),
};

/** Opset 1-6: B broadcast onto A only with `broadcast=1` (at `axis`); since 7: numpy broadcasting. */
export const Less: OpKernel[] = versions('Less', [
  [1, binaryKernel(spec, true)],
  [7, binaryKernel(spec)],
]);
