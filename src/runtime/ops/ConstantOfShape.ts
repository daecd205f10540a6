/**
 * ConstantOfShape (ONNX, opset 9): a tensor of the given shape filled with the one-element `value`
 * attribute (default float 0), of value's type. Small or int64 results stay on the host.
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { sizeOf } from '../../ir/tensor.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { filled, HOST_LIMIT, type Element } from '../util/host.js';
import { readInts } from '../util/ints.js';

export const ConstantOfShape: OpKernel[] = [
  {
    domain: '',
    opType: 'ConstantOfShape',
    since: 9,
    run: (inputs, ctx) => {
      const dims = readInts(required(inputs, 0, ctx));
      if (dims.some((d) => d < 0)) throw new ModelError(`${ctx.node.describe()}: negative dim in shape [${dims.join(',')}]`);
      const value = ctx.node.attrTensor('value');
      if (value && value.size !== 1) throw new ModelError(`${ctx.node.describe()}: 'value' must hold one element, has ${value.size}`);
      const dataType = value?.dataType ?? DataType.FLOAT;
      const element: Element = value ? (value.data[0] as Element) : 0;
      return [filled(dataType, dims, element, sizeOf(dims) <= HOST_LIMIT)];
    },
  },
];
