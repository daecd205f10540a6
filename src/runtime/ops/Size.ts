/** Size (ONNX): the input's element count as an INT64 scalar on the host. */
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { int64Tensor } from '../util/ints.js';

export const Size: OpKernel[] = [
  { domain: '', opType: 'Size', since: 1, run: (inputs, ctx) => [int64Tensor([required(inputs, 0, ctx).size], [])] },
];
