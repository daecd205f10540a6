/** Mean (ONNX): the elementwise mean of all inputs, broadcast together (float types only). */
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { tfCompute, variadicKernel } from '../util/elementwise.js';

/** The Mean kernel of ai.onnx, from opset 1. */
export const Mean: OpKernel[] = [
  {
    domain: '',
    opType: 'Mean',
    since: 1,
    run: variadicKernel({ device: (a, b) => tf.add(a, b) }, (acc, count) => {
      const t = acc.tf;
      return tfCompute(acc.dataType, [t], () => tf.div(t, tf.scalar(count)));
    }),
  },
];
