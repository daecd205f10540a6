/** GlobalAveragePool (ONNX): the mean over all spatial axes of X [N, C, *spatial] -> [N, C, 1, ...] (util/pool.ts). */
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { globalPool } from '../util/pool.js';

export const GlobalAveragePool: OpKernel[] = [
  { domain: '', opType: 'GlobalAveragePool', since: 1, run: (inputs, ctx) => [globalPool(required(inputs, 0, ctx), ctx, 'avg')] },
];
