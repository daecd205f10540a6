/**
 * Mod (ONNX, since 10): the remainder of A / B with broadcasting. With `fmod=0` (integers only) the result
 * takes the divisor's sign, like Python's %; with `fmod=1` it takes the dividend's sign, like C's fmod.
 * tfjs's mod is the floored (divisor-sign) one; fmod is sign(a) * mod(|a|, |b|). Integers compute on the
 * host even when they live on tfjs (tfjs-wasm's int32 Mod goes through float32).
 */
import { NumericsError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { binaryKernel, type BinarySpec } from '../util/elementwise.js';

function modByZero(ctx: KernelContext): never {
  throw new NumericsError(`${ctx.node.describe()}: integer modulo by zero (opset ${ctx.opset})`, 'check the divisor feeding this Mod');
}

const fmod = (ctx: KernelContext) => ctx.node.attrInt('fmod', 0) === 1;

const spec: BinarySpec = {
  hostAlways: true,
  host: {
    num: (a, b, ctx) => {
      if (b === 0) modByZero(ctx);
      const r = a % b;
      return !fmod(ctx) && r !== 0 && r < 0 !== b < 0 ? r + b : r;
    },
    big: (a, b, ctx) => {
      if (b === 0n) modByZero(ctx);
      const r = a % b;
      return !fmod(ctx) && r !== 0n && r < 0n !== b < 0n ? r + b : r;
    },
  },
  device: (a, b, _t, ctx) => (fmod(ctx) ? tf.mul(tf.sign(a), tf.mod(tf.abs(a), tf.abs(b))) : tf.mod(a, b)),
};

/** The Mod kernel of ai.onnx, from opset 10. */
export const Mod: OpKernel[] = [{ domain: '', opType: 'Mod', since: 10, run: binaryKernel(spec) }];
