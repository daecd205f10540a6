/** IsNaN (ONNX, since 9): true where x is NaN. */
import { DataType } from '../../core/dtype.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The IsNaN kernel of ai.onnx, from opset 9. */
export const IsNaN: OpKernel[] = [{ domain: '', opType: 'IsNaN', since: 9, run: unaryKernel({ outType: () => DataType.BOOL, device: (x) => tf.isNaN(x) }) }];
