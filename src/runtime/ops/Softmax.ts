/** Softmax (ONNX): e^x / sum(e^x) along an axis (see util/softmax.ts for the opset 13 change). */
import type { OpKernel } from '../kernel.js';
import { softmaxKernel } from '../util/softmax.js';

/** Opset 1-12: coerced to 2-D at `axis` (default 1); since 13: along `axis` (default -1). */
export const Softmax: OpKernel[] = [
  { domain: '', opType: 'Softmax', since: 1, run: softmaxKernel(false, true) },
  { domain: '', opType: 'Softmax', since: 13, run: softmaxKernel(false, false) },
];
