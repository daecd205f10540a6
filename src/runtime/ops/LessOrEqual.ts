/** LessOrEqual (ONNX): A <= B elementwise with broadcasting, giving BOOL (since opset 12). */
import { DataType } from '../../core/dtype.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { binaryKernel, versions, type BinarySpec } from '../util/elementwise.js';

const spec: BinarySpec = {
  outType: () => DataType.BOOL,
  host: { num: (a, b) => a <= b, big: (a, b) => a <= b },
  device: (a, b) => tf.lessEqual(a, b),
};

/** The LessOrEqual kernel of ai.onnx, from opset 12. */
export const LessOrEqual: OpKernel[] = versions('LessOrEqual', [[12, binaryKernel(spec)]]);
