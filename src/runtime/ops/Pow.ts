/**
 * Pow (ONNX): X ^ Y with broadcasting; the output has the base's type. Since opset 12 base and exponent
 * may be integers (int32 / int64) and of different types. onnxruntime computes integer powers as
 * std::pow in double cast back to the base type, so an int32 result beyond int32 becomes INT32_MIN (x86's
 * conversion) and 2^-1 is 0; that is what the host path does, except that int64 powers with an integer
 * exponent are exact (square-and-multiply in BigInt) where a double would lose digits past 2^53, with the
 * same INT64_MIN when the result does not fit.
 */
import { tf } from '../backend.js';
import type { Kernel, KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { RTensor } from '../value.js';
import { broadcastDims, broadcastIndex, legacyAlignedDims } from '../util/broadcast.js';
import { floatToInt32, floatToInt64, hostElements, hostOutput, isIntegral, isWide, tfCompute, versions, type HostScalar } from '../util/elementwise.js';
import { sizeOf } from '../../ir/tensor.js';

const INT64_MIN = -(2n ** 63n);

/** x^e for int64 with an integer exponent: exact, INT64_MIN when out of range (as double overflow casts on x86). */
function powInt64(x: bigint, e: bigint): bigint {
  if (e < 0n) return x === 1n ? 1n : x === -1n ? (e % 2n === 0n ? 1n : -1n) : x === 0n ? INT64_MIN : 0n;
  let r = 1n;
  let b = x;
  let k = e;
  while (k > 0n) {
    if (k & 1n) {
      r *= b;
      if (r >= 2n ** 63n || r < INT64_MIN) return INT64_MIN;
    }
    k >>= 1n;
    if (k > 0n) {
      b *= b;
      if (b > 2n ** 64n) return r === 0n ? 0n : INT64_MIN;
    }
  }
  return r;
}

/** Pow on the host, for an integer base, both inputs host-resident. */
function hostPow(x: RTensor, y: RTensor, yDims: readonly number[], ctx: KernelContext): RTensor {
  const outDims = broadcastDims([x.dims, yDims], ctx);
  const n = sizeOf(outDims);
  const ix = broadcastIndex(x.dims, outDims);
  const iy = broadcastIndex(yDims, outDims);
  const big = isWide(x.dataType);
  const X = hostElements(x, big);
  const Y = hostElements(y, false);
  const { data, store } = hostOutput(x.dataType, n);
  const intExp = isIntegral(y.dataType);
  for (let i = 0; i < n; i++) {
    const b = X[ix ? ix[i]! : i]!;
    const e = Y[iy ? iy[i]! : i]!;
    let r: HostScalar;
    if (big) r = intExp ? powInt64(b as bigint, BigInt(e)) : floatToInt64(Math.pow(Number(b), Number(e)));
    else r = floatToInt32(Math.pow(b as number, Number(e)));
    store(i, r);
  }
  return RTensor.fromHost(x.dataType, outDims, data);
}

function powKernel(legacy: boolean): Kernel {
  return (inputs, ctx) => {
    const x = required(inputs, 0, ctx);
    const y = required(inputs, 1, ctx);
    const yDims = legacy ? legacyAlignedDims(x.dims, y.dims, ctx) : y.dims;
    // Integer bases always compute on the host (read back if needed): exact, and tfjs-wasm's int32 Pow is float32.
    if (isIntegral(x.dataType)) return [hostPow(x, y, yDims, ctx)];
    const tx = x.tf;
    // x^2 with a constant exponent (LayerNorm written out, as exporters do): Square, a unary kernel,
    // instead of tfjs-wasm's generic broadcasting Pow (~10x slower); the same x*x.
    if (y.onHost && y.size === 1 && y.dims.length <= x.dims.length && Number(hostElements(y, false)[0]) === 2) {
      return [tfCompute(x.dataType, [tx], () => tf.square(tx))];
    }
    const ty = y.tf;
    // tf.pow upcasts an int32/float32 pair to float32; the result is cast back to the base's type.
    return [tfCompute(x.dataType, [tx, ty], () => tf.pow(tx, tf.reshape(ty, yDims as number[])))];
  };
}

/** Opset 1-6: B broadcast onto A only with `broadcast=1` (at `axis`); since 7: numpy broadcasting. */
export const Pow: OpKernel[] = versions('Pow', [
  [1, powKernel(true)],
  [7, powKernel(false)],
]);
