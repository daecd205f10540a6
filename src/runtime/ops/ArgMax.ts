/** ArgMax (ONNX): the int64 index of the largest element along `axis` (see util/reduce.ts argKernel). */
import type { OpKernel } from '../kernel.js';
import { argKernel } from '../util/reduce.js';

/** The ArgMax kernel of ai.onnx, from opset 1. */
export const ArgMax: OpKernel[] = [{ domain: '', opType: 'ArgMax', since: 1, run: argKernel(true) }];
