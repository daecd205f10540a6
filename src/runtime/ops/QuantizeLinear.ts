/**
 * QuantizeLinear (ONNX, and onnxruntime's com.microsoft contrib op used by its QDQ tooling for 16-bit and
 * 4-bit types): y = saturate(round_half_even(x / y_scale) + y_zero_point).
 *
 * Versions: 10 (per tensor), 13 (`axis`: per-axis scales), 19 (`saturate`, float8 outputs: refused here,
 * fp16 inputs), 21 (`block_size`: blocked scales; `output_dtype`; int4/uint4/int16/uint16), 23+
 * (`precision`: onnxruntime's CPU kernel divides in float32 whatever it says, and so do we). The output
 * type is the zero point's, else `output_dtype` (21+), else uint8. com.microsoft since 1 has the same
 * maths with `axis` (and `block_size` where its exporters write one).
 *
 * Quotients beyond the int32 range (in practice only infinities) saturate as the spec says. onnxruntime's
 * answer there is undefined behaviour in C++ (a float-to-int overflow) and differs between its code
 * paths: its vectorised per-tensor path saturates like us, its fp16 and blocked paths may not.
 */
import { DataType, dataTypeName, isFloatType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { checkZeroPointShape, granularityOf, paramForX, quantRange, roundAddSaturate } from '../util/quant.js';
import { RTensor } from '../value.js';

function outputType(zp: RTensor | null, since: number, ctx: KernelContext): number {
  const attr = since >= 21 ? ctx.node.attrInt('output_dtype', 0) : 0;
  if (zp) {
    if (attr !== 0 && attr !== zp.dataType) {
      throw new ModelError(`${ctx.node.describe()}: output_dtype ${dataTypeName(attr)} differs from the zero point's type ${dataTypeName(zp.dataType)}`);
    }
    return zp.dataType;
  }
  return attr !== 0 ? attr : DataType.UINT8;
}

function quantizeLinear(domain: string, since: number): OpKernel {
  return {
    domain,
    opType: 'QuantizeLinear',
    since,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      const scale = required(inputs, 1, ctx);
      const zp = inputs[2] ?? null;
      if (!isFloatType(x.dataType) || !isFloatType(scale.dataType)) {
        throw new ModelError(`${ctx.node.describe()}: x and y_scale must be float tensors, got ${dataTypeName(x.dataType)} and ${dataTypeName(scale.dataType)}`);
      }
      const modern = domain !== '' || since >= 13;
      const axis = modern ? ctx.node.attrInt('axis', 1) : 1;
      const blockSize = domain !== '' || since >= 21 ? ctx.node.attrInt('block_size', 0) : 0;
      const outType = outputType(zp, domain === '' ? since : 21, ctx);
      const range = quantRange(outType, ctx, 'output');
      const g = granularityOf(scale, x.dims, axis, blockSize, ctx);
      if (zp) checkZeroPointShape(zp, scale, ctx);
      // Materialise tfjs tensors outside the tidy: session constants cache theirs and must keep them.
      const xt = x.tf;
      const st = scale.tf;
      const zt = zp?.tf;
      const y = tf.tidy(() => {
        const v = tf.div(xt, paramForX(st, x.dims, g));
        return roundAddSaturate(v, zt ? paramForX(zt, x.dims, g) : 0, range);
      });
      return [RTensor.fromTf(y, outType)];
    },
  };
}

/** QuantizeLinear kernels: ONNX 10, 13, 19, 21, 23 (23 also serves 24 and 25) and com.microsoft 1. */
export const QuantizeLinear: OpKernel[] = [
  quantizeLinear('', 10),
  quantizeLinear('', 13),
  quantizeLinear('', 19),
  quantizeLinear('', 21),
  quantizeLinear('', 23),
  quantizeLinear('com.microsoft', 1),
];
