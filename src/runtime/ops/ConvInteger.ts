/**
 * ConvInteger (ONNX 10): int32 Y = conv(X - x_zero_point, W - w_zero_point) for uint8/int8 X and W, with
 * Conv's attributes (auto_pad, pads, strides, dilations, group; 1-D and 2-D). x_zero_point is per tensor;
 * w_zero_point per tensor or per output channel (1-D [M]). Padding contributes zero after the shift, as
 * onnxruntime pads its im2col buffer with x_zero_point. Exact (util/intconv.ts).
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { convGeometry, exactIntConv, perChannelShape } from '../util/intconv.js';
import { eightBitOperand, shifted } from '../util/quant.js';
import { RTensor } from '../value.js';

/** ConvInteger kernel: ONNX 10. */
export const ConvInteger: OpKernel[] = [
  {
    domain: '',
    opType: 'ConvInteger',
    since: 10,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      const w = required(inputs, 1, ctx);
      const xzp = inputs[2] ?? null;
      const wzp = inputs[3] ?? null;
      const boundX = eightBitOperand(x, xzp, 'X', ctx);
      const boundW = eightBitOperand(w, wzp, 'W', ctx);
      if (xzp && xzp.size !== 1) throw new ModelError(`${ctx.node.describe()}: x_zero_point must be a scalar, got shape [${xzp.dims.join(',')}]`);
      const wShape = wzp ? perChannelShape(wzp, w, 'w_zero_point', ctx) : [];
      const geom = convGeometry(ctx, x.dims.slice(2), w.dims.slice(2));
      const xt = x.tf;
      const wt = w.tf;
      const xzt = xzp?.tf;
      const wzt = wzp?.tf;
      const y = tf.tidy(() => exactIntConv(shifted(xt, xzt, []), shifted(wt, wzt, wShape), geom, boundX, boundW, ctx));
      return [RTensor.fromTf(y, DataType.INT32)];
    },
  },
];
