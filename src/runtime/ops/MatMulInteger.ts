/**
 * MatMulInteger (ONNX 10): int32 Y = (A - a_zero_point) @ (B - b_zero_point) for uint8/int8 A and B, with
 * numpy matmul shapes. Zero points are per tensor (a scalar), per row of A (1-D [M], or [.., M, 1]
 * matching A's rank) and per column of B (1-D [N], or [.., 1, N]). The product is exact: float32 matmuls
 * over chunks of K short enough that no partial sum passes 2^24, summed in int32 (util/intmatmul.ts).
 */
import { DataType } from '../../core/dtype.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { exactIntMatMul, promoteMatMul, zeroPointShape } from '../util/intmatmul.js';
import { eightBitOperand, shifted } from '../util/quant.js';
import { RTensor } from '../value.js';

/** MatMulInteger kernel: ONNX 10. */
export const MatMulInteger: OpKernel[] = [
  {
    domain: '',
    opType: 'MatMulInteger',
    since: 10,
    run: (inputs, ctx) => {
      const a = required(inputs, 0, ctx);
      const b = required(inputs, 1, ctx);
      const azp = inputs[2] ?? null;
      const bzp = inputs[3] ?? null;
      const boundA = eightBitOperand(a, azp, 'A', ctx);
      const boundB = eightBitOperand(b, bzp, 'B', ctx);
      const aShape = azp ? zeroPointShape(azp, a, 'A', ctx) : [];
      const bShape = bzp ? zeroPointShape(bzp, b, 'B', ctx) : [];
      const at = a.tf;
      const bt = b.tf;
      const azt = azp?.tf;
      const bzt = bzp?.tf;
      const y = tf.tidy(() => {
        const p = promoteMatMul(shifted(at, azt, aShape), shifted(bt, bzt, bShape), ctx.node.describe());
        return p.finish(exactIntMatMul(p.a, p.b, boundA, boundB));
      });
      return [RTensor.fromTf(y, DataType.INT32)];
    },
  },
];
