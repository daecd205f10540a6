/** GreaterOrEqual (ONNX): A >= B elementwise with broadcasting, giving BOOL (since opset 12). */
import { DataType } from '../../core/dtype.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { binaryKernel, versions, type BinarySpec } from '../util/elementwise.js';

const spec: BinarySpec = {
  outType: () => DataType.BOOL,
  host: { num: (a, b) => a >= b, big: (a, b) => a >= b },
  device: (a, b) => tf.greaterEqual(a, b),
};

/** The GreaterOrEqual kernel of ai.onnx, from opset 12. */
export const GreaterOrEqual: OpKernel[] = versions('GreaterOrEqual', [[12, binaryKernel(spec)]]);
