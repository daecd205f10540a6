/**
 * DynamicQuantizeLinear (ONNX 11): quantizes x to uint8 with a scale and zero point computed from its own
 * range, which is first extended to include 0 (so that 0 is exactly representable):
 *
 *   scale = (max(x, 0) - min(x, 0)) / 255,  zero_point = round_half_even(clamp(0 - min / scale, 0, 255))
 *   y     = saturate(round_half_even(x / scale) + zero_point)
 *
 * Every step is float32, in onnxruntime's order; when the range is empty (all zeros) onnxruntime uses a
 * scale of 1 (the spec's formula would divide by zero), and so do we.
 */
import { DataType, dataTypeName } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { quantRange, roundAddSaturate, roundHalfEven } from '../util/quant.js';
import { RTensor } from '../value.js';

/** DynamicQuantizeLinear kernel: ONNX 11. */
export const DynamicQuantizeLinear: OpKernel[] = [
  {
    domain: '',
    opType: 'DynamicQuantizeLinear',
    since: 11,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      if (x.dataType !== DataType.FLOAT) throw new ModelError(`${ctx.node.describe()}: x must be float32, got ${dataTypeName(x.dataType)}`);
      const range = quantRange(DataType.UINT8, ctx, 'output');
      const xt = x.tf;
      let lo = 0;
      let hi = 0;
      if (x.size > 0) {
        const mm = tf.tidy(() => tf.stack([tf.min(xt), tf.max(xt)]));
        const v = mm.dataSync();
        mm.dispose();
        lo = Math.min(v[0]!, 0);
        hi = Math.max(v[1]!, 0);
      }
      const scale = hi === lo ? 1 : Math.fround(Math.fround(hi - lo) / (range.max - range.min));
      const initial = Math.fround(range.min - Math.fround(lo / scale));
      const zp = roundHalfEven(Math.max(range.min, Math.min(range.max, initial)));
      const y = tf.tidy(() => roundAddSaturate(tf.div(xt, tf.scalar(scale)), zp, range));
      return [
        RTensor.fromTf(y, DataType.UINT8),
        RTensor.fromHost(DataType.FLOAT, [], Float32Array.of(scale)),
        RTensor.fromHost(DataType.UINT8, [], Uint8Array.of(zp)),
      ];
    },
  },
];
