/**
 * Builders for the Reduce* and ArgMax/ArgMin kernels.
 *
 * Axes come from the `axes` attribute before opset 18 (ReduceSum: before 13) and from an optional int64
 * input after; no axes means all axes, unless `noop_with_empty_axes=1`, which makes the op an identity.
 * `keepdims` (default 1) keeps reduced axes as 1s. Integer and bool inputs on the host reduce exactly
 * there (int64 with BigInt: ReduceProd of a Shape is a common shape computation); everything else
 * reduces on tfjs.
 *
 * Reducing over an empty set is handled here rather than by tfjs (whose wasm backend returns garbage for
 * it): the result is the identity of the reduction, as in onnxruntime (0 for sums and for the mean, 1 for
 * products, the lowest / highest value of the type for max / min, -inf for log-sum-exp).
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { sizeOf } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import type { Kernel, KernelContext } from '../kernel.js';
import { alias, normAxis, required } from '../kernel.js';
import { RTensor } from '../value.js';
import { hostElements, hostOutput, intRange, isIntegral, isWide, tfCompute, type HostScalar } from './elementwise.js';

/** Exact host maths of a reduction (integers, bool): an initial value, a step and an optional finish. */
export interface HostReduce {
  init: (big: boolean) => HostScalar;
  step: (acc: HostScalar, v: HostScalar, big: boolean) => HostScalar;
  finish?: (acc: HostScalar, count: number, big: boolean) => HostScalar;
}

/** A reduction: its tfjs maths, its exact host maths, and its value over an empty set. */
export interface ReduceSpec {
  /** tfjs reduction of a float32 / int32 tensor over sorted, distinct axes. */
  device: (x: tf.Tensor, axes: number[], keepDims: boolean) => tf.Tensor;
  host?: HostReduce;
  /** The result over an empty set: a number, or the lowest / highest value of the type. */
  empty: number | 'lowest' | 'highest';
}

/** Resolves the axes to reduce (sorted, distinct), or null when the op is an identity (noop_with_empty_axes). */
export function reduceAxes(x: RTensor, axesInput: RTensor | null | undefined, fromInput: boolean, ctx: KernelContext): number[] | null {
  let axes = fromInput ? axesInput?.numbers() : ctx.node.attrInts('axes');
  if (!axes || axes.length === 0) {
    if (ctx.node.attrInt('noop_with_empty_axes', 0) === 1) return null;
    axes = x.dims.map((_, i) => i);
  }
  const norm = [...new Set(axes.map((a) => normAxis(a, x.rank, ctx)))];
  return norm.sort((a, b) => a - b);
}

function emptyValue(spec: ReduceSpec, dataType: number): HostScalar {
  if (typeof spec.empty === 'number') return spec.empty;
  const lowest = spec.empty === 'lowest';
  if (dataType === DataType.INT64) return lowest ? -(2n ** 63n) : 2n ** 63n - 1n;
  if (dataType === DataType.UINT64) return lowest ? 0n : 2n ** 64n - 1n;
  const [lo, hi] = isIntegral(dataType) ? intRange(dataType) : [-Infinity, Infinity];
  return lowest ? lo : hi;
}

/** Exact reduction on the host; `keptDims` is the output shape with reduced axes kept as 1. */
function hostReduce(x: RTensor, axes: number[], keptDims: number[], outDims: number[], host: HostReduce): RTensor {
  const big = isWide(x.dataType);
  const src = hostElements(x, big);
  const nOut = sizeOf(keptDims);
  const acc = new Array<HostScalar>(nOut).fill(host.init(big));
  // Output stride of each input axis (0 along reduced axes), walked with an odometer.
  const rank = x.rank;
  const strides = new Array<number>(rank).fill(0);
  for (let ax = rank - 1, s = 1; ax >= 0; ax--) {
    strides[ax] = axes.includes(ax) ? 0 : s;
    s *= keptDims[ax]!;
  }
  const counter = new Array<number>(rank).fill(0);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    acc[o] = host.step(acc[o]!, src[i]!, big);
    for (let ax = rank - 1; ax >= 0; ax--) {
      counter[ax]!++;
      o += strides[ax]!;
      if (counter[ax]! < x.dims[ax]!) break;
      o -= strides[ax]! * counter[ax]!;
      counter[ax] = 0;
    }
  }
  const count = x.size / Math.max(nOut, 1);
  const { data, store } = hostOutput(x.dataType, nOut);
  for (let i = 0; i < nOut; i++) store(i, host.finish ? host.finish(acc[i]!, count, big) : acc[i]!);
  return RTensor.fromHost(x.dataType, outDims, data);
}

/** Reduces `x` over `axes` (resolved) with `keepDims`. */
export function reduce(x: RTensor, axes: number[], keepDims: boolean, spec: ReduceSpec): RTensor {
  const keptDims = x.dims.map((d, i) => (axes.includes(i) ? 1 : d));
  const outDims = keepDims ? keptDims : x.dims.filter((_, i) => !axes.includes(i));
  const reducedCount = axes.reduce((n, a) => n * x.dims[a]!, 1);
  if (reducedCount === 0 || x.size === 0) {
    const v = emptyValue(spec, x.dataType);
    const n = sizeOf(outDims);
    if (!isIntegral(x.dataType)) return RTensor.fromNumbers(x.dataType, outDims, new Array<number>(n).fill(Number(v)));
    const { data, store } = hostOutput(x.dataType, n);
    for (let i = 0; i < n; i++) store(i, v);
    return RTensor.fromHost(x.dataType, outDims, data);
  }
  if (spec.host && isIntegral(x.dataType) && !x.onDevice) return hostReduce(x, axes, keptDims, outDims, spec.host);
  const t = x.tf;
  return tfCompute(x.dataType, [t], () => {
    // A scalar reduces as a one-element vector; bool (ReduceMax/Min since opset 20) as int32.
    let src = t.dtype === 'bool' ? tf.cast(t, 'int32') : t;
    if (x.rank === 0) return tf.reshape(spec.device(tf.reshape(src, [1]), [0], false), outDims);
    src = spec.device(src, axes, keepDims);
    return src;
  });
}

/**
 * A Reduce* kernel. `fromInput`: axes are the optional second input (ReduceSum since 13, the others
 * since 18), else the `axes` attribute.
 */
export function reduceKernel(spec: ReduceSpec, fromInput: boolean): Kernel {
  return (inputs, ctx) => {
    const x = required(inputs, 0, ctx);
    if (x.dataType === DataType.STRING) throw new ModelError(`${ctx.node.describe()}: string tensors cannot be reduced (opset ${ctx.opset})`);
    const axes = reduceAxes(x, inputs[1], fromInput, ctx);
    if (axes === null) return [alias(x)];
    return [reduce(x, axes, ctx.node.attrInt('keepdims', 1) === 1, spec)];
  };
}

/**
 * ArgMax (`max`) / ArgMin: the int64 index of the extreme element along `axis` (default 0), first
 * occurrence unless `select_last_index=1` (since opset 12); `keepdims` (default 1) keeps the axis as 1.
 */
export function argKernel(max: boolean): Kernel {
  return (inputs, ctx) => {
    const x = required(inputs, 0, ctx);
    const axis = normAxis(ctx.node.attrInt('axis', 0), x.rank, ctx);
    const keep = ctx.node.attrInt('keepdims', 1) === 1;
    const last = ctx.node.attrInt('select_last_index', 0) === 1;
    const n = x.dims[axis] ?? 1;
    const outDims = keep ? x.dims.map((d, i) => (i === axis ? 1 : d)) : x.dims.filter((_, i) => i !== axis);
    if (n === 0) throw new ModelError(`${ctx.node.describe()}: cannot take the arg${max ? 'max' : 'min'} of an empty axis ${axis} (opset ${ctx.opset})`);
    if (isIntegral(x.dataType) && !x.onDevice) {
      const src = hostElements(x, isWide(x.dataType));
      const inner = x.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
      const outer = x.size / (n * inner);
      const out = new BigInt64Array(outer * inner);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const base = o * n * inner + i;
          let best = 0;
          let bv = src[base]!;
          for (let k = 1; k < n; k++) {
            const v = src[base + k * inner]!;
            const better = max ? v > bv || (last && v === bv) : v < bv || (last && v === bv);
            if (better) {
              best = k;
              bv = v;
            }
          }
          out[o * inner + i] = BigInt(best);
        }
      }
      return [RTensor.fromHost(DataType.INT64, outDims, out)];
    }
    const t = x.tf;
    return [
      tfCompute(DataType.INT64, [t], () => {
        let src = t.dtype === 'bool' ? tf.cast(t, 'int32') : t;
        if (x.rank === 0) return tf.zeros([], 'int32');
        // onnxruntime (like numpy) treats NaN as the extreme value; tfjs skips it.
        if (src.dtype === 'float32') src = tf.where(tf.isNaN(src), tf.fill(src.shape, max ? Infinity : -Infinity), src);
        // tfjs returns the first extreme index; the last one is the first of the reversed axis.
        let idx = max ? tf.argMax(last ? tf.reverse(src, axis) : src, axis) : tf.argMin(last ? tf.reverse(src, axis) : src, axis);
        if (last) idx = tf.sub(tf.scalar(n - 1, 'int32'), idx);
        return tf.reshape(idx, outDims);
      }),
    ];
  };
}
