/**
 * QLinearMatMul (ONNX 10, 21): the quantized MatMul of QOperator models.
 *
 *   acc = (a - a_zero_point) @ (b - b_zero_point)                      exact int32 (util/intmatmul.ts)
 *   y   = saturate(round_half_even(float(acc) * (a_scale * b_scale / y_scale)) + y_zero_point)
 *
 * as onnxruntime computes it: the output multiplier folded in float32, left to right, then one float32
 * product per element (MLAS MlasRequantizeOutput). a's scale and zero point are per tensor or per row, b's
 * per tensor or per column, y's per tensor. The output type is y_zero_point's (uint8 or int8; the float8
 * types of version 21 are refused).
 */
import { dataTypeName } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { exactIntMatMul, promoteMatMul, zeroPointShape } from '../util/intmatmul.js';
import { eightBitOperand, quantRange, roundAddSaturate, shifted } from '../util/quant.js';
import { RTensor } from '../value.js';

function qlinearMatMul(since: number): OpKernel {
  return {
    domain: '',
    opType: 'QLinearMatMul',
    since,
    run: (inputs, ctx) => {
      const a = required(inputs, 0, ctx);
      const aScale = required(inputs, 1, ctx);
      const aZp = required(inputs, 2, ctx);
      const b = required(inputs, 3, ctx);
      const bScale = required(inputs, 4, ctx);
      const bZp = required(inputs, 5, ctx);
      const yScale = required(inputs, 6, ctx);
      const yZp = required(inputs, 7, ctx);
      const boundA = eightBitOperand(a, aZp, 'a', ctx);
      const boundB = eightBitOperand(b, bZp, 'b', ctx);
      const range = quantRange(yZp.dataType, ctx, 'y_zero_point');
      if (yScale.size !== 1 || yZp.size !== 1) {
        throw new ModelError(`${ctx.node.describe()}: y_scale and y_zero_point must be scalars`, `got shapes [${yScale.dims.join(',')}] and [${yZp.dims.join(',')}] (${dataTypeName(yZp.dataType)})`);
      }
      const aShape = zeroPointShape(aZp, a, 'A', ctx);
      const bShape = zeroPointShape(bZp, b, 'B', ctx);
      const asShape = zeroPointShape(aScale, a, 'A', ctx);
      const bsShape = zeroPointShape(bScale, b, 'B', ctx);
      const [at, bt, azt, bzt, ast, bst, yst, yzt] = [a.tf, b.tf, aZp.tf, bZp.tf, aScale.tf, bScale.tf, yScale.tf, yZp.tf];
      const y = tf.tidy(() => {
        const p = promoteMatMul(shifted(at, azt, aShape), shifted(bt, bzt, bShape), ctx.node.describe());
        const acc = exactIntMatMul(p.a, p.b, boundA, boundB);
        const multiplier = tf.div(tf.mul(tf.reshape(ast, asShape), tf.reshape(bst, bsShape)), tf.reshape(yst, []));
        const q = roundAddSaturate(tf.mul(tf.cast(acc, 'float32'), multiplier), tf.reshape(yzt, []), range);
        return p.finish(q);
      });
      return [RTensor.fromTf(y, yZp.dataType)];
    },
  };
}

/** QLinearMatMul kernels: ONNX 10 and 21 (same maths; 21 only adds float8 types, refused here). */
export const QLinearMatMul: OpKernel[] = [qlinearMatMul(10), qlinearMatMul(21)];
