/**
 * Pooling geometry and kernels shared by MaxPool, AveragePool, LpPool and the global pools.
 *
 * Geometry follows onnxruntime (pool_attributes.h): out = floor or ceil((in + pads - dilation *
 * (kernel - 1) - 1) / stride + 1); auto_pad SAME_* pads (ceil(in / stride) - 1) * stride + kernel - in,
 * the odd pixel at the tail for SAME_UPPER and at the head for SAME_LOWER. With ceil_mode the last
 * window may run past the tail pad: that overhang is padded too but counts for nothing (never the max,
 * not in an average's divisor, as in onnxruntime and PyTorch).
 *
 * Layout: pooling is per channel, so NCHW data is viewed as [N*C, *spatial, 1], a channels-last tensor
 * with one channel, which every backend pools without any transpose. Data already channels-last (from a
 * conv, see RTensor.fromNhwc) is pooled as it is, with its channels: 4x faster on wasm than one channel
 * (XNNPACK vectorises over channels).
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext } from '../kernel.js';
import { RTensor } from '../value.js';
import { onDevice } from './device.js';

/** Resolved pooling geometry per spatial axis. */
export interface PoolGeometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Pads at the head of each axis (real pads). */
  head: number[];
  /** Pads at the tail (real pads). */
  tail: number[];
  /** Extra tail padding so the last ceil_mode window fits (counts for nothing). */
  overhang: number[];
  out: number[];
}

/** Reads kernel_shape, strides, pads, dilations (when `withDilations`), auto_pad and ceil_mode. */
export function poolGeometry(ctx: KernelContext, inSpatial: readonly number[], withDilations: boolean): PoolGeometry {
  const node = ctx.node;
  const r = inSpatial.length;
  const kernel = node.attrInts('kernel_shape');
  if (!kernel || kernel.length !== r) throw new ModelError(`${node.describe()}: kernel_shape must list ${r} sizes, got [${(kernel ?? []).join(',')}]`);
  const ones = new Array<number>(r).fill(1);
  const strides = node.attrInts('strides') ?? ones;
  const dilations = withDilations ? (node.attrInts('dilations') ?? ones) : ones;
  const pads = (node.attrInts('pads') ?? new Array<number>(2 * r).fill(0)).slice();
  const ceil = node.attrInt('ceil_mode', 0) !== 0;
  const autoPad = node.attrString('auto_pad', 'NOTSET');
  if (strides.length !== r || dilations.length !== r || pads.length !== 2 * r) {
    throw new ModelError(`${node.describe()}: strides/dilations/pads lengths do not match ${r} spatial axes`);
  }
  const head: number[] = [];
  const tail: number[] = [];
  const overhang: number[] = [];
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const n = inSpatial[i]!;
    const s = strides[i]!;
    const span = dilations[i]! * (kernel[i]! - 1) + 1;
    let ph = pads[i]!;
    let pt = pads[i + r]!;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const needed = Math.max(0, (Math.ceil(n / s) - 1) * s + kernel[i]! - n);
      ph = autoPad === 'SAME_UPPER' ? Math.floor(needed / 2) : Math.floor((needed + 1) / 2);
      pt = needed - ph;
    } else if (autoPad === 'VALID') {
      ph = 0;
      pt = 0;
    } else if (autoPad !== 'NOTSET') {
      throw new ModelError(`${node.describe()}: unknown auto_pad '${autoPad}'`, 'use NOTSET, VALID, SAME_UPPER or SAME_LOWER');
    }
    const q = (n + ph + pt - span) / s + 1;
    const o = ceil ? Math.ceil(q) : Math.floor(q);
    if (o < 1) throw new ModelError(`${node.describe()}: the pooling window does not fit the padded input on spatial axis ${i}`);
    head.push(ph);
    tail.push(pt);
    overhang.push(Math.max(0, (o - 1) * s + span - (n + ph + pt)));
    out.push(o);
  }
  return { kernel, strides, dilations, head, tail, overhang, out };
}

/** Pads the spatial axes (1..r) of a channels-last [B, *spatial, 1] tensor with `value`. */
function padSpatial(x: tf.Tensor, before: number[], after: number[], value: number): tf.Tensor {
  if (before.every((p) => p === 0) && after.every((p) => p === 0)) return x;
  return tf.pad(x, [[0, 0], ...before.map((b, i) => [b, after[i]!] as [number, number]), [0, 0]], value);
}

/**
 * Max or sum over each window of a channels-last [B, *spatial, 1] tensor that is already padded, with
 * 'valid' windows: tfjs pools for dilation 1 (2-D and 3-D), else one strided slice per kernel tap (no
 * tfjs gradient for those: training through dilated pooling is not supported).
 * Returns [B, *out, 1]. `kind` 'avg' returns the window mean (kernel-size divisor).
 */
function poolValid(x: tf.Tensor, g: PoolGeometry, kind: 'max' | 'avg'): tf.Tensor {
  const r = g.kernel.length;
  if (g.dilations.every((d) => d === 1)) {
    if (r === 2) {
      const k = g.kernel as [number, number];
      const s = g.strides as [number, number];
      return kind === 'max' ? tf.maxPool(x as tf.Tensor4D, k, s, 'valid') : tf.avgPool(x as tf.Tensor4D, k, s, 'valid');
    }
    // The wasm backend's MaxPool3D starts its running max at FLT_MIN (the smallest positive float), so
    // all-negative windows come out wrong there; 3-D max pooling on wasm takes the tap path below.
    if (r === 3 && !(kind === 'max' && tf.getBackend() === 'wasm')) {
      const k = g.kernel as [number, number, number];
      const s = g.strides as [number, number, number];
      return kind === 'max' ? tf.maxPool3d(x as tf.Tensor5D, k, s, 'valid') : tf.avgPool3d(x as tf.Tensor5D, k, s, 'valid');
    }
  }
  // Dilated windows (or other ranks): combine one strided slice per kernel tap.
  let acc: tf.Tensor | undefined;
  const taps = g.kernel.reduce((a, b) => a * b, 1);
  for (let t = 0; t < taps; t++) {
    const idx: number[] = [];
    let rem = t;
    for (let i = r - 1; i >= 0; i--) {
      idx[i] = rem % g.kernel[i]!;
      rem = Math.floor(rem / g.kernel[i]!);
    }
    const begin = [0, ...idx.map((k, i) => k * g.dilations[i]!), 0];
    const end = [x.shape[0]!, ...idx.map((k, i) => k * g.dilations[i]! + (g.out[i]! - 1) * g.strides[i]! + 1), x.shape[r + 1]!];
    const slice = tf.stridedSlice(x, begin, end, [1, ...g.strides, 1]);
    acc = acc ? (kind === 'max' ? tf.maximum(acc, slice) : tf.add(acc, slice)) : slice;
  }
  return kind === 'max' ? acc! : tf.div(acc!, taps);
}

/** NCHW [N, C, *spatial] -> [N*C, *spatial, 1] and back. */
function toChannelsLast1(x: tf.Tensor): tf.Tensor {
  const [n, c, ...s] = x.shape as number[];
  return tf.reshape(x, [n! * c!, ...s, 1]);
}

function fromChannelsLast1(y: tf.Tensor, n: number, c: number): tf.Tensor {
  return tf.reshape(y, [n, c, ...y.shape.slice(1, -1)]);
}

/** MaxPool over NCHW x (any spatial rank >= 1). Call inside a tidy. */
export function maxPoolNCHW(x: tf.Tensor, g: PoolGeometry): tf.Tensor {
  const [n, c] = x.shape as [number, number];
  return fromChannelsLast1(maxPoolChannelsLast(toChannelsLast1(x), g), n, c);
}

/** MaxPool over channels-last x [B, *spatial, C] (any spatial rank >= 1). Call inside a tidy. */
export function maxPoolChannelsLast(x: tf.Tensor, g: PoolGeometry): tf.Tensor {
  const lifted = g.kernel.length === 1;
  let xl = x;
  let geo = g;
  if (lifted) {
    xl = tf.expandDims(xl, 1);
    geo = liftGeometry(g);
  }
  const padded = padSpatial(xl, geo.head, geo.tail.map((t, i) => t + geo.overhang[i]!), -Infinity);
  const y = poolValid(padded, geo, 'max');
  return lifted ? tf.squeeze(y, [1]) : y;
}

/**
 * AveragePool over NCHW x: the window sum of the zero-padded input divided by the count of what the
 * divisor includes (the input, plus the real pads when `countIncludePad`), itself a pooled mask.
 * Call inside a tidy.
 */
export function avgPoolNCHW(x: tf.Tensor, g: PoolGeometry, countIncludePad: boolean): tf.Tensor {
  const [n, c] = x.shape as [number, number];
  return fromChannelsLast1(avgPoolChannelsLast(toChannelsLast1(x), g, countIncludePad), n, c);
}

/** AveragePool over channels-last x [B, *spatial, C], as avgPoolNCHW. Call inside a tidy. */
export function avgPoolChannelsLast(x: tf.Tensor, g: PoolGeometry, countIncludePad: boolean): tf.Tensor {
  const lifted = g.kernel.length === 1;
  let xl = x;
  let geo = g;
  if (lifted) {
    xl = tf.expandDims(xl, 1);
    geo = liftGeometry(g);
  }
  const after = geo.tail.map((t, i) => t + geo.overhang[i]!);
  const padded = padSpatial(xl, geo.head, after, 0);
  let y = poolValid(padded, geo, 'avg');
  const anyPad = geo.head.some((p) => p > 0) || geo.tail.some((p) => p > 0);
  const anyOverhang = geo.overhang.some((p) => p > 0);
  if (anyOverhang || (anyPad && !countIncludePad)) {
    // Divisor: the fraction of each window that counts, from the same pooling of a 0/1 mask.
    const spatial = xl.shape.slice(1, -1) as number[];
    let mask = tf.ones([1, ...spatial, 1]);
    if (countIncludePad) mask = padSpatial(mask, geo.head, geo.tail, 1);
    mask = padSpatial(mask, countIncludePad ? geo.head.map(() => 0) : geo.head, countIncludePad ? geo.overhang : after, 0);
    y = tf.div(y, poolValid(mask, geo, 'avg'));
  }
  return lifted ? tf.squeeze(y, [1]) : y;
}

/** A 1-D geometry as 2-D with a unit leading axis. */
function liftGeometry(g: PoolGeometry): PoolGeometry {
  return {
    kernel: [1, ...g.kernel],
    strides: [1, ...g.strides],
    dilations: [1, ...g.dilations],
    head: [0, ...g.head],
    tail: [0, ...g.tail],
    overhang: [0, ...g.overhang],
    out: [1, ...g.out],
  };
}

/**
 * GlobalAveragePool / GlobalMaxPool: the mean or maximum over all spatial axes of X [N, C, *spatial] ->
 * [N, C, 1, ...]. Channels-last data is one pooling window over all of [N, H, W, C] (XNNPACK's pool, no
 * transpose, where a reduction over axes 1 and 2 would transpose them inside); NCHW data one contiguous
 * last-axis reduction over [N, C, H*W...].
 */
export function globalPool(X: RTensor, ctx: KernelContext, kind: 'avg' | 'max'): RTensor {
  if (X.rank < 3) throw new ModelError(`${ctx.node.describe()}: X must be [N, C, *spatial], got [${X.dims.join(',')}]`);
  const [n, c] = X.dims as [number, number];
  onDevice(X);
  if (X.channelsLast) {
    const [, h, w] = X.nhwc().shape;
    const pool = kind === 'avg' ? tf.avgPool : tf.maxPool;
    return RTensor.fromNhwc(tf.tidy(() => pool(X.nhwc(), [h, w], 1, 'valid')), X.dataType);
  }
  const reduce = kind === 'avg' ? tf.mean : tf.max;
  const y = tf.tidy(() => tf.reshape(reduce(tf.reshape(X.tf, [n, c, -1]), 2), [n, c, ...X.dims.slice(2).map(() => 1)]));
  return RTensor.fromTf(y, X.dataType);
}
