/**
 * DequantizeLinear (ONNX, and onnxruntime's com.microsoft contrib op): y = (x - x_zero_point) * x_scale,
 * computed as onnxruntime does: the difference in int32, converted to float32, times the scale (one
 * rounding), then stored in the output type (fp16 outputs round once more, to nearest even).
 *
 * Versions: 10 (per tensor), 13 (`axis`), 19 (fp16 scales and outputs; float8 inputs: refused here), 21
 * (`block_size`: blocked scales; int4/uint4/int16/uint16 inputs), 23+ (`output_dtype`). The output type
 * is the scale's unless `output_dtype` says otherwise. INT32 inputs (biases) have no zero point.
 */
import { dataTypeName, isFloatType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { checkZeroPointShape, granularityOf, paramForX, quantRange } from '../util/quant.js';
import { RTensor } from '../value.js';

function dequantizeLinear(domain: string, since: number): OpKernel {
  return {
    domain,
    opType: 'DequantizeLinear',
    since,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      const scale = required(inputs, 1, ctx);
      const zp = inputs[2] ?? null;
      quantRange(x.dataType, ctx, 'input', true);
      if (zp && zp.dataType !== x.dataType) {
        throw new ModelError(`${ctx.node.describe()}: zero point type ${dataTypeName(zp.dataType)} differs from the input's ${dataTypeName(x.dataType)}`);
      }
      if (!isFloatType(scale.dataType)) throw new ModelError(`${ctx.node.describe()}: scale must be a float tensor, got ${dataTypeName(scale.dataType)}`);
      const modern = domain !== '' || since >= 13;
      const axis = modern ? ctx.node.attrInt('axis', 1) : 1;
      const blockSize = domain !== '' || since >= 21 ? ctx.node.attrInt('block_size', 0) : 0;
      const outAttr = domain === '' && since >= 23 ? ctx.node.attrInt('output_dtype', 0) : 0;
      const outType = outAttr !== 0 ? outAttr : scale.dataType;
      if (!isFloatType(outType)) throw new ModelError(`${ctx.node.describe()}: output_dtype ${dataTypeName(outType)} is not a float type`);
      const g = granularityOf(scale, x.dims, axis, blockSize, ctx);
      if (zp) checkZeroPointShape(zp, scale, ctx);
      const xt = x.tf;
      const st = scale.tf;
      const zt = zp?.tf;
      const y = tf.tidy(() => {
        const shifted = zt ? tf.sub(xt, paramForX(zt, x.dims, g)) : xt;
        return tf.mul(tf.cast(shifted, 'float32'), paramForX(st, x.dims, g));
      });
      return [RTensor.fromTf(y, outType)];
    },
  };
}

/** DequantizeLinear kernels: ONNX 10, 13, 19, 21, 23 (23 also serves 24 and 25) and com.microsoft 1. */
export const DequantizeLinear: OpKernel[] = [
  dequantizeLinear('', 10),
  dequantizeLinear('', 13),
  dequantizeLinear('', 19),
  dequantizeLinear('', 21),
  dequantizeLinear('', 23),
  dequantizeLinear('com.microsoft', 1),
];
