/** Identity (ONNX): the input, unchanged. One kernel serves every version (1, 13, 14, 16, 19, 21 only widen the types). */
import type { OpKernel } from '../kernel.js';
import { alias, required } from '../kernel.js';

export const Identity: OpKernel[] = [
  {
    domain: '',
    opType: 'Identity',
    since: 1,
    run: (inputs, ctx) => [alias(required(inputs, 0, ctx))],
  },
];
