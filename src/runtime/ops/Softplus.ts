/** Softplus (ONNX): ln(e^x + 1), computed stably by tfjs (x + ln(1 + e^-x) for large x). */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Softplus kernel of ai.onnx, from opset 1. */
export const Softplus: OpKernel[] = [{ domain: '', opType: 'Softplus', since: 1, run: unaryKernel({ device: (x) => tf.softplus(x) }) }];
