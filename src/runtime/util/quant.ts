/**
 * Linear quantization maths shared by the quantized kernels (QuantizeLinear, DequantizeLinear,
 * DynamicQuantizeLinear, QLinearMatMul, QLinearConv, ...), written to reproduce onnxruntime's CPU kernels
 * bit for bit:
 *
 * - quantize: `saturate(round(x / scale) + zero_point)` with the division in float32 (onnxruntime divides,
 *   it does not multiply by a reciprocal), rounding half to even (tfjs `round` is banker's rounding, as is
 *   the SSE `cvtps2dq` MLAS uses), then clamping to the integer type's range. A NaN lands on the type's
 *   minimum in both (MLAS's `max(NaN, lo)` returns `lo`; tfjs-wasm's clip does the same).
 * - dequantize: `float(int32(x) - int32(zero_point)) * scale`, one float32 rounding, as onnxruntime does.
 * - requantize an int32 accumulator: `float(acc) * (a_scale * b_scale / y_scale)`, the scale folded in
 *   float32 in that order (MLAS `MlasRequantizeOutput`), then rounded and saturated as above.
 *
 * Scales and zero points come in three granularities (ONNX QuantizeLinear-21): per tensor (a scalar or a
 * one-element 1-D tensor), per axis (a 1-D tensor along `axis`), and blocked (same rank as x, the `axis`
 * dimension divided, rounding up, by `block_size`). `paramForX` turns any of them into a tfjs tensor that
 * broadcasts against x.
 */
import { DataType, dataTypeName } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext } from '../kernel.js';
import { normAxis } from '../kernel.js';
import type { RTensor } from '../value.js';

/** Inclusive integer range of a quantized type. */
export interface QuantRange {
  min: number;
  max: number;
}

const ranges: Partial<Record<number, QuantRange>> = {
  [DataType.UINT8]: { min: 0, max: 255 },
  [DataType.INT8]: { min: -128, max: 127 },
  [DataType.UINT16]: { min: 0, max: 65535 },
  [DataType.INT16]: { min: -32768, max: 32767 },
  [DataType.UINT4]: { min: 0, max: 15 },
  [DataType.INT4]: { min: -8, max: 7 },
  [DataType.INT32]: { min: -2147483648, max: 2147483647 },
};

/** The float8 / float4 types: quantizing to them needs float-format rounding this runtime does not do. */
export function isLowPrecisionFloat(dataType: number): boolean {
  return (dataType >= DataType.FLOAT8E4M3FN && dataType <= DataType.FLOAT8E5M2FNUZ) || dataType === DataType.FLOAT4E2M1;
}

/**
 * The integer range of a quantized type, or a ModelError naming the node when the type is not one we
 * quantize to. `allowInt32` admits INT32 (DequantizeLinear of biases).
 */
export function quantRange(dataType: number, ctx: KernelContext, what: string, allowInt32 = false): QuantRange {
  if (isLowPrecisionFloat(dataType)) {
    throw new ModelError(
      `${ctx.node.describe()}: ${what} of type ${dataTypeName(dataType)} is not supported (float8/float4 quantization needs float-format rounding this runtime does not implement)`,
      'quantize to int8/uint8/int16/uint16/int4/uint4 instead, or run this model in onnxruntime',
    );
  }
  const r = ranges[dataType];
  if (!r || (dataType === DataType.INT32 && !allowInt32)) {
    throw new ModelError(`${ctx.node.describe()}: ${what} of type ${dataTypeName(dataType)} is not a supported quantized type`, 'supported: uint8, int8, uint16, int16, uint4, int4');
  }
  return r;
}

/** How a scale / zero point maps onto x. */
export type Granularity = { kind: 'tensor' } | { kind: 'axis'; axis: number } | { kind: 'block'; axis: number; blockSize: number };

/**
 * Classifies a scale tensor against x's shape as onnxruntime does: one element is per tensor (then a
 * block size must not be given); otherwise per axis (1-D of x.dims[axis]) or, with `blockSize > 0`,
 * blocked (same rank as x, ceil(D_axis / block_size) on the axis, D_i elsewhere).
 */
export function granularityOf(scale: RTensor, xDims: readonly number[], axisAttr: number, blockSize: number, ctx: KernelContext): Granularity {
  if (scale.size === 1 && scale.rank <= 1) {
    if (blockSize > 0) throw new ModelError(`${ctx.node.describe()}: block_size ${blockSize} needs a blocked scale, got a single value`);
    return { kind: 'tensor' };
  }
  const axis = normAxis(axisAttr, xDims.length, ctx);
  if (blockSize > 0) {
    if (scale.rank !== xDims.length) {
      throw new ModelError(`${ctx.node.describe()}: blocked quantization needs a scale of the input's rank ${xDims.length}, got shape [${scale.dims.join(',')}]`);
    }
    for (let i = 0; i < xDims.length; i++) {
      const want = i === axis ? Math.ceil(xDims[i]! / blockSize) : xDims[i]!;
      if (scale.dims[i] !== want) {
        throw new ModelError(
          `${ctx.node.describe()}: scale shape [${scale.dims.join(',')}] does not fit input [${xDims.join(',')}] with block_size ${blockSize} on axis ${axis} (dimension ${i} should be ${want})`,
        );
      }
    }
    return { kind: 'block', axis, blockSize };
  }
  if (scale.rank !== 1 || scale.dims[0] !== xDims[axis]) {
    throw new ModelError(`${ctx.node.describe()}: a per-axis scale must be 1-D of size ${xDims[axis]} (axis ${axis}), got shape [${scale.dims.join(',')}]`);
  }
  return { kind: 'axis', axis };
}

/** Checks that a zero point has the scale's shape (any one-element shape for per-tensor). */
export function checkZeroPointShape(zp: RTensor, scale: RTensor, ctx: KernelContext): void {
  const same = zp.dims.length === scale.dims.length && zp.dims.every((d, i) => d === scale.dims[i]);
  if (!same && !(zp.size === 1 && scale.size === 1)) {
    throw new ModelError(`${ctx.node.describe()}: zero point shape [${zp.dims.join(',')}] differs from scale shape [${scale.dims.join(',')}]`);
  }
}

/**
 * A scale or zero point as a tfjs tensor that broadcasts against x (caller disposes; call inside a tidy).
 * `p` is the parameter's tfjs tensor (float32 for scales, int32 for zero points), materialised by the
 * caller outside any tidy.
 */
export function paramForX(p: tf.Tensor, xDims: readonly number[], g: Granularity): tf.Tensor {
  if (g.kind === 'tensor') return tf.reshape(p, []);
  const shape = xDims.map(() => 1);
  if (g.kind === 'axis') {
    shape[g.axis] = xDims[g.axis]!;
    return tf.reshape(p, shape);
  }
  // Blocked: repeat each entry block_size times along the axis, then cut to D_axis (the last block may
  // be partial), by gathering with index floor(i / block_size).
  const d = xDims[g.axis]!;
  const idx = new Int32Array(d);
  for (let i = 0; i < d; i++) idx[i] = Math.floor(i / g.blockSize);
  return tf.gather(p, tf.tensor1d(idx, 'int32'), g.axis);
}

/**
 * round-half-even(v) + zp, saturated to `range`, as int32 (inside a tidy). `v` is float32 (x / scale or a
 * rescaled accumulator), `zp` an int32 tensor or a number broadcasting against it.
 */
export function roundAddSaturate(v: tf.Tensor, zp: tf.Tensor | number, range: QuantRange): tf.Tensor {
  const zf = typeof zp === 'number' ? tf.scalar(zp) : tf.cast(zp, 'float32');
  const q = tf.add(tf.round(v), zf);
  return tf.cast(tf.clipByValue(q, range.min, range.max), 'int32');
}

/**
 * The largest |q - zp| over a quantized type's range and the given zero points: the bound on one factor of
 * an integer product, used to size exact float32 accumulations.
 */
export function shiftedBound(range: QuantRange, zeroPoints: ArrayLike<number>): number {
  let b = 0;
  const n = Math.max(zeroPoints.length, 1);
  for (let i = 0; i < n; i++) {
    const z = zeroPoints.length ? zeroPoints[i]! : 0;
    b = Math.max(b, range.max - z, z - range.min);
  }
  return b;
}

/** Rounds half to even (banker's rounding), like C's nearbyint in the default rounding mode. */
export function roundHalfEven(v: number): number {
  if (!Number.isFinite(v)) return v;
  const f = Math.floor(v);
  const diff = v - f;
  if (diff < 0.5) return f;
  if (diff > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Checks an operand is 8-bit and its zero point has its type; returns |q - zp|'s bound. */
export function eightBitOperand(t: RTensor, zp: RTensor | null, name: string, ctx: KernelContext): number {
  if (t.dataType !== DataType.UINT8 && t.dataType !== DataType.INT8) {
    throw new ModelError(`${ctx.node.describe()}: ${name} must be uint8 or int8, got ${dataTypeName(t.dataType)}`);
  }
  if (zp && zp.dataType !== t.dataType) {
    throw new ModelError(`${ctx.node.describe()}: ${name}'s zero point is ${dataTypeName(zp.dataType)}, ${name} is ${dataTypeName(t.dataType)}`);
  }
  return shiftedBound(quantRange(t.dataType, ctx, name), zp ? zp.numbers() : []);
}

/** (t - zp) as float32 holding integers, zp broadcast with `shape` (inside a tidy). */
export function shifted(t: tf.Tensor, zp: tf.Tensor | undefined, shape: number[]): tf.Tensor {
  return tf.cast(zp ? tf.sub(t, tf.reshape(zp, shape)) : t, 'float32');
}

