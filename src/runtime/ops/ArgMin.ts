/** ArgMin (ONNX): the int64 index of the smallest element along `axis` (see util/reduce.ts argKernel). */
import type { OpKernel } from '../kernel.js';
import { argKernel } from '../util/reduce.js';

/** The ArgMin kernel of ai.onnx, from opset 1. */
export const ArgMin: OpKernel[] = [{ domain: '', opType: 'ArgMin', since: 1, run: argKernel(false) }];
