/** Not (ONNX): logical negation of a BOOL tensor. */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Not kernel of ai.onnx, from opset 1. */
export const Not: OpKernel[] = [{ domain: '', opType: 'Not', since: 1, run: unaryKernel({ host: { num: (a) => a === 0 }, device: (x) => tf.logicalNot(x) }) }];
