/** Erf (ONNX): the error function (tfjs uses the Abramowitz-Stegun 7.1.26 polynomial, |error| < 1.5e-7). */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { unaryKernel } from '../util/elementwise.js';

/** The Erf kernel of ai.onnx, from opset 9. */
export const Erf: OpKernel[] = [
  {
    domain: '',
    opType: 'Erf',
    since: 9,
    run: unaryKernel({
      device: (x) => tf.erf(x),
    }),
  },
];
