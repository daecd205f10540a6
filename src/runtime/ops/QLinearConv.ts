/**
 * QLinearConv (ONNX 10): the quantized Conv of QOperator models.
 *
 *   acc = conv(x - x_zero_point, w - w_zero_point) + B                 exact int32 (util/intconv.ts)
 *   y   = saturate(round_half_even(float(acc) * (x_scale * w_scale / y_scale)) + y_zero_point)
 *
 * as onnxruntime computes it (the multiplier folded in float32 per output channel, left to right; the int32
 * bias added before the conversion to float). w's scale and zero point are per tensor or per output
 * channel; x's and y's per tensor. The output type is y_zero_point's.
 */
import { DataType, dataTypeName } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { convGeometry, exactIntConv, perChannelShape } from '../util/intconv.js';
import { eightBitOperand, quantRange, roundAddSaturate, shifted } from '../util/quant.js';
import { RTensor } from '../value.js';

/** QLinearConv kernel: ONNX 10. */
export const QLinearConv: OpKernel[] = [
  {
    domain: '',
    opType: 'QLinearConv',
    since: 10,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      const xScale = required(inputs, 1, ctx);
      const xZp = required(inputs, 2, ctx);
      const w = required(inputs, 3, ctx);
      const wScale = required(inputs, 4, ctx);
      const wZp = required(inputs, 5, ctx);
      const yScale = required(inputs, 6, ctx);
      const yZp = required(inputs, 7, ctx);
      const bias = inputs[8] ?? null;
      const boundX = eightBitOperand(x, xZp, 'x', ctx);
      const boundW = eightBitOperand(w, wZp, 'w', ctx);
      const range = quantRange(yZp.dataType, ctx, 'y_zero_point');
      for (const [t, name] of [[xScale, 'x_scale'], [xZp, 'x_zero_point'], [yScale, 'y_scale'], [yZp, 'y_zero_point']] as const) {
        if (t.size !== 1) throw new ModelError(`${ctx.node.describe()}: ${name} must be a scalar, got shape [${t.dims.join(',')}]`);
      }
      const m = w.dims[0]!;
      if (bias && (bias.dataType !== DataType.INT32 || bias.size !== m)) {
        throw new ModelError(`${ctx.node.describe()}: B must be int32 [${m}], got ${dataTypeName(bias.dataType)} [${bias.dims.join(',')}]`);
      }
      const wzShape = perChannelShape(wZp, w, 'w_zero_point', ctx);
      const wsShape = perChannelShape(wScale, w, 'w_scale', ctx);
      const geom = convGeometry(ctx, x.dims.slice(2), w.dims.slice(2));
      // Per-output-channel parameters broadcast against Y [N, M, ...spatial].
      const channelShape = [1, m, ...x.dims.slice(2).map(() => 1)];
      const [xt, wt, xzt, wzt, xst, wst, yst, yzt] = [x.tf, w.tf, xZp.tf, wZp.tf, xScale.tf, wScale.tf, yScale.tf, yZp.tf];
      const bt = bias?.tf;
      const y = tf.tidy(() => {
        let acc = exactIntConv(shifted(xt, xzt, []), shifted(wt, wzt, wzShape), geom, boundX, boundW, ctx);
        if (bt) acc = tf.add(acc, tf.reshape(bt, channelShape));
        const ws = wsShape.length === 0 ? tf.reshape(wst, []) : tf.reshape(wst, channelShape);
        const multiplier = tf.div(tf.mul(tf.reshape(xst, []), ws), tf.reshape(yst, []));
        return roundAddSaturate(tf.mul(tf.cast(acc, 'float32'), multiplier), tf.reshape(yzt, []), range);
      });
      return [RTensor.fromTf(y, yZp.dataType)];
    },
  },
];
