/**
 * Exact integer convolution (ConvInteger, QLinearConv) on tfjs float32 conv kernels, plus the ONNX conv
 * geometry (auto_pad, pads, strides, dilations, group) it needs.
 *
 * The operands arrive zero-point-shifted (x - x_zero_point, w - w_zero_point) as float32 tensors holding
 * integers, so padding with 0 is padding with the zero point, as onnxruntime's im2col does. Each output
 * is a sum over C/group * prod(kernel) products; when that could pass 2^24 the reduction is split (input
 * channels first, then kernel rows) into convolutions whose float32 sums are exact, summed in int32, and
 * x is split into base-16 digits first when that saves convolutions (see intmatmul.ts for both). The wasm backend has channels-last conv only, so data moves to NHWC and back.
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { Node } from '../../ir/node.js';
import type { KernelContext } from '../kernel.js';
import type { RTensor } from '../value.js';
import { digitsPay, exactTerms, splitDigits } from './intmatmul.js';
import { onTensorflow } from './matmul.js';

/** Resolved geometry of one ONNX convolution. */
export interface ConvGeometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Begin pads then end pads, one per spatial axis (ONNX order). */
  pads: number[];
  group: number;
  /** Output spatial sizes. */
  out: number[];
}

/**
 * Reads Conv-family attributes against the input's and weight's spatial sizes: auto_pad (NOTSET, VALID,
 * SAME_UPPER: extra pad at the end, SAME_LOWER: at the beginning), explicit pads, strides, dilations.
 */
export function convGeometry(ctx: KernelContext, xSpatial: readonly number[], wSpatial: readonly number[]): ConvGeometry {
  return nodeConvGeometry(ctx.node, xSpatial, wSpatial);
}

/** convGeometry for a node outside a kernel (the calibration statistics of a Conv's input patches). */
export function nodeConvGeometry(node: Node, xSpatial: readonly number[], wSpatial: readonly number[]): ConvGeometry {
  const r = xSpatial.length;
  const kernel = node.attrInts('kernel_shape') ?? wSpatial.slice();
  if (kernel.length !== r || kernel.some((k, i) => k !== wSpatial[i])) {
    throw new ModelError(`${node.describe()}: kernel_shape [${kernel.join(',')}] does not match the weight's spatial shape [${wSpatial.join(',')}]`);
  }
  const strides = node.attrInts('strides') ?? new Array<number>(r).fill(1);
  const dilations = node.attrInts('dilations') ?? new Array<number>(r).fill(1);
  const group = node.attrInt('group', 1);
  const autoPad = node.attrString('auto_pad', 'NOTSET');
  let pads = node.attrInts('pads') ?? new Array<number>(2 * r).fill(0);
  if (strides.length !== r || dilations.length !== r || pads.length !== 2 * r) {
    throw new ModelError(`${node.describe()}: strides/dilations/pads lengths do not match ${r} spatial axes`);
  }
  const out: number[] = [];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    pads = new Array<number>(2 * r).fill(0);
    for (let i = 0; i < r; i++) {
      const o = Math.ceil(xSpatial[i]! / strides[i]!);
      const span = (kernel[i]! - 1) * dilations[i]! + 1;
      const total = Math.max(0, (o - 1) * strides[i]! + span - xSpatial[i]!);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + r] = total - pads[i]!;
    }
  } else if (autoPad === 'VALID') {
    pads = new Array<number>(2 * r).fill(0);
  } else if (autoPad !== 'NOTSET') {
    throw new ModelError(`${node.describe()}: unknown auto_pad '${autoPad}'`, 'use NOTSET, VALID, SAME_UPPER or SAME_LOWER');
  }
  for (let i = 0; i < r; i++) {
    const span = (kernel[i]! - 1) * dilations[i]! + 1;
    const o = Math.floor((xSpatial[i]! + pads[i]! + pads[i + r]! - span) / strides[i]!) + 1;
    if (o < 1) throw new ModelError(`${node.describe()}: the kernel does not fit the padded input on spatial axis ${i}`);
    out.push(o);
  }
  return { kernel, strides, dilations, pads, group, out };
}

/**
 * Inserts (d - 1) zeros between kernel taps along one axis of an HWIO filter, so a dilated convolution can
 * run as an undilated one (tfjs refuses strides and dilations both above 1). Zero taps add exact zeros.
 */
function dilateAxis(w: tf.Tensor4D, axis: 0 | 1, d: number): tf.Tensor4D {
  if (d === 1 || w.shape[axis] === 1) return w;
  const [kh, kw, ci, co] = w.shape;
  const k = axis === 0 ? kh : kw;
  // Interleave with zeros: [.., k, 1, ..] ++ [.., k, d-1, ..] -> [.., k*d, ..] -> keep (k-1)*d+1 taps.
  const expanded = axis === 0 ? tf.reshape(w, [kh, 1, kw, ci, co]) : tf.reshape(w, [kh, kw, 1, ci, co]);
  const zerosShape = expanded.shape.slice();
  zerosShape[axis + 1] = d - 1;
  const inter = tf.concat([expanded, tf.zeros(zerosShape)], axis + 1);
  const flat = axis === 0 ? tf.reshape(inter, [kh * d, kw, ci, co]) : tf.reshape(inter, [kh, kw * d, ci, co]);
  const size = [kh, kw, ci, co];
  size[axis] = (k - 1) * d + 1;
  return tf.slice(flat, [0, 0, 0, 0], size) as tf.Tensor4D;
}

/** One valid-padded conv (or depthwise conv) on NHWC x and HWIO (or HW C mult) w, float32. */
function convValid(x: tf.Tensor4D, w: tf.Tensor4D, strides: [number, number], dilations: [number, number], depthwise: boolean): tf.Tensor4D {
  let dil = dilations;
  // tfjs refuses strides and dilations both above 1; TensorFlow's depthwise kernel any dilation.
  if ((strides[0] > 1 || strides[1] > 1 || (depthwise && onTensorflow())) && (dil[0] > 1 || dil[1] > 1)) {
    w = dilateAxis(dilateAxis(w, 0, dil[0]), 1, dil[1]);
    dil = [1, 1];
  }
  return depthwise ? tf.depthwiseConv2d(x, w, strides, 'valid', 'NHWC', dil) : tf.conv2d(x, w, strides, 'valid', 'NHWC', dil);
}

/**
 * Exact int32 convolution of zero-point-shifted operands (float32 tensors holding integers, |x| <= boundX,
 * |w| <= boundW): x [N, C, *spatial], w [M, C/group, *kernel], 1-D or 2-D spatial. Returns int32
 * [N, M, *out]. Call inside a tidy.
 */
export function exactIntConv(x: tf.Tensor, w: tf.Tensor, geom: ConvGeometry, boundX: number, boundW: number, ctx: KernelContext): tf.Tensor {
  const r = x.rank - 2;
  if (r !== 1 && r !== 2) throw new ModelError(`${ctx.node.describe()}: only 1-D and 2-D convolutions are supported, got ${r} spatial axes`);
  const [n, c] = x.shape as number[];
  const m = w.shape[0]!;
  const cg = w.shape[1]!;
  const { group } = geom;
  if (c !== cg * group || m % group !== 0) {
    throw new ModelError(`${ctx.node.describe()}: input channels ${c} and weight [${w.shape.join(',')}] do not fit group ${group}`);
  }
  // Lift 1-D to 2-D with a unit height.
  const g2 =
    r === 1
      ? { k: [1, geom.kernel[0]!], s: [1, geom.strides[0]!], d: [1, geom.dilations[0]!], p: [0, geom.pads[0]!, 0, geom.pads[1]!], out: [1, geom.out[0]!] }
      : { k: geom.kernel, s: geom.strides, d: geom.dilations, p: geom.pads, out: geom.out };
  const x4 = (r === 1 ? tf.reshape(x, [n!, c!, 1, x.shape[2]!]) : x) as tf.Tensor4D;
  const w4 = (r === 1 ? tf.reshape(w, [m, cg, 1, w.shape[2]!]) : w) as tf.Tensor4D;
  const padded = tf.pad(x4, [
    [0, 0],
    [0, 0],
    [g2.p[0]!, g2.p[2]!],
    [g2.p[1]!, g2.p[3]!],
  ]);
  const xh = tf.transpose(padded, [0, 2, 3, 1]) as tf.Tensor4D;
  const strides: [number, number] = [g2.s[0]!, g2.s[1]!];
  const dilations: [number, number] = [g2.d[0]!, g2.d[1]!];
  const [ho, wo] = [g2.out[0]!, g2.out[1]!];
  const [kh, kw] = [g2.k[0]!, g2.k[1]!];
  // How to cut the reduction (channels x kernel rows) so that each piece holds at most `t` terms.
  const plan = (channels: number, t: number): { cpc: number; rpc: number } => {
    if (channels * kh * kw <= t) return { cpc: channels, rpc: kh };
    if (kh * kw <= t) return { cpc: Math.floor(t / (kh * kw)), rpc: kh };
    if (kw > t) throw new ModelError(`${ctx.node.describe()}: kernel width ${kw} is too wide for an exact float32 accumulation`);
    return { cpc: 1, rpc: Math.floor(t / kw) };
  };
  const pieces = (channels: number, t: number): number => {
    const p = plan(channels, t);
    return Math.ceil(channels / p.cpc) * Math.ceil(kh / p.rpc);
  };

  // Sums over (channel chunk, kernel-row chunk) pieces, each exact in float32, added in int32.
  const chunked = (xs: tf.Tensor4D, ws: tf.Tensor4D, depthwise: boolean, t: number): tf.Tensor => {
    const channels = depthwise ? 1 : ws.shape[2];
    const { cpc, rpc } = plan(channels, t);
    let acc: tf.Tensor | undefined;
    for (let c0 = 0; c0 < channels; c0 += cpc) {
      const cl = Math.min(cpc, channels - c0);
      for (let r0 = 0; r0 < kh; r0 += rpc) {
        const rl = Math.min(rpc, kh - r0);
        const rowOff = r0 * dilations[0];
        const xPart = tf.slice(xs, [0, rowOff, 0, depthwise ? 0 : c0], [-1, xs.shape[1] - rowOff, -1, depthwise ? -1 : cl]) as tf.Tensor4D;
        const wPart = tf.slice(ws, [r0, 0, depthwise ? 0 : c0, 0], [rl, -1, depthwise ? -1 : cl, -1]) as tf.Tensor4D;
        const y = convValid(xPart, wPart, strides, dilations, depthwise);
        const piece = tf.cast(y.shape[1] === ho ? y : tf.slice(y, [0, 0, 0, 0], [-1, ho, wo, -1]), 'int32');
        acc = acc ? tf.add(acc, piece) : piece;
      }
    }
    return acc!;
  };

  // Direct pieces, or (when that needs more than twice as many) x split into base-16 digits.
  const terms = exactTerms(boundX, boundW);
  const splitTerms = exactTerms(Math.max(15, Math.ceil(boundX / 16)), boundW);
  const exact = (xs: tf.Tensor4D, ws: tf.Tensor4D, depthwise: boolean): tf.Tensor => {
    const channels = depthwise ? 1 : ws.shape[2];
    if (!digitsPay(terms, splitTerms, (t) => pieces(channels, t))) return chunked(xs, ws, depthwise, terms);
    const d = splitDigits(xs, boundX);
    const hi = chunked(d.hi as tf.Tensor4D, ws, depthwise, splitTerms);
    return tf.add(tf.mul(hi, tf.scalar(16, 'int32')), chunked(d.lo as tf.Tensor4D, ws, depthwise, splitTerms));
  };

  let yh: tf.Tensor;
  if (group === 1) {
    yh = exact(xh, tf.transpose(w4, [2, 3, 1, 0]) as tf.Tensor4D, false);
  } else if (cg === 1) {
    // Depthwise: output channel o reads input channel floor(o / mult); tfjs orders outputs c * mult + j.
    const mult = m / group;
    const wd = tf.transpose(tf.reshape(w4, [group, mult, kh, kw]), [2, 3, 0, 1]) as tf.Tensor4D;
    yh = exact(xh, wd, true);
  } else {
    const mg = m / group;
    const wAll = tf.transpose(w4, [2, 3, 1, 0]) as tf.Tensor4D;
    const parts: tf.Tensor[] = [];
    for (let g = 0; g < group; g++) {
      const xg = tf.slice(xh, [0, 0, 0, g * cg], [-1, -1, -1, cg]) as tf.Tensor4D;
      const wg = tf.slice(wAll, [0, 0, 0, g * mg], [-1, -1, -1, mg]) as tf.Tensor4D;
      parts.push(exact(xg, wg, false));
    }
    yh = tf.concat(parts, 3);
  }
  const y = tf.transpose(yh, [0, 3, 1, 2]);
  return r === 1 ? tf.reshape(y, [n!, m, wo]) : y;
}

/** The broadcast shape of a per-tensor or per-output-channel weight parameter against W [M, C/g, ...k]. */
export function perChannelShape(p: RTensor, w: RTensor, what: string, ctx: KernelContext): number[] {
  if (p.size === 1) return [];
  if (p.rank === 1 && p.dims[0] === w.dims[0]) return [w.dims[0]!, ...w.dims.slice(1).map(() => 1)];
  throw new ModelError(`${ctx.node.describe()}: ${what} of shape [${p.dims.join(',')}] must be a scalar or 1-D [${w.dims[0]}] (per output channel)`);
}
