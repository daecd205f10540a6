/** Scatter (ONNX opsets 9-10, deprecated in 11 for ScatterElements, which it equals without reduction). */
import type { OpKernel } from '../kernel.js';
import { scatterElements } from './ScatterElements.js';

export const Scatter: OpKernel[] = [{ domain: '', opType: 'Scatter', since: 9, run: (inputs, ctx) => scatterElements(inputs, ctx, 'none') }];
