/**
 * Div (ONNX): A / B with broadcasting. Integer division truncates toward zero, as C++ does in
 * onnxruntime and as ONNX's reference (`np.divide(a, b).astype(a.dtype)`) does. Integers divide on the
 * host even when they live on tfjs: tfjs-wasm's int32 FloorDiv goes through float32 (2147483647 / 1 gives
 * -2147483648), so only the host is exact.
 */
import { NumericsError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { binaryKernel, versions, type BinarySpec } from '../util/elementwise.js';

function divByZero(ctx: KernelContext): never {
  throw new NumericsError(`${ctx.node.describe()}: integer division by zero (opset ${ctx.opset})`, 'check the divisor feeding this Div');
}

const spec: BinarySpec = {
  hostAlways: true,
  host: {
    // A double quotient of two 32-bit integers never rounds across an integer, so trunc is exact.
    num: (a, b, ctx) => (b === 0 ? divByZero(ctx) : Math.trunc(a / b)),
    big: (a, b, ctx) => (b === 0n ? divByZero(ctx) : a / b),
  },
  device: (a, b) => tf.div(a, b),
};

/** Opset 1-6: B broadcast onto A only with `broadcast=1` (at `axis`); since 7: numpy broadcasting. */
export const Div: OpKernel[] = versions('Div', [
  [1, binaryKernel(spec, true)],
  [7, binaryKernel(spec)],
]);
