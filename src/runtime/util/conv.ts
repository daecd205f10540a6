/**
 * Float 2-D convolution on tfjs in NHWC, with groups, and its two adjoints (the gradient with respect to
 * the input, which is also ConvTranspose's forward pass, and the gradient with respect to the filter).
 *
 * Why NHWC: the wasm backend (XNNPACK) has channels-last convolutions only, so ONNX's NCHW data is
 * transposed in and out around each call (ops/Conv.ts).
 *
 * Why our own gradients: tfjs's conv gradients need kernels the wasm backend lacks
 * (Conv2DBackpropFilter for conv2d and conv2dTranspose, DepthwiseConv2dNativeBackpropInput and
 * ...BackpropFilter for depthwise), and refuse dilations > 1. Here every adjoint is built from kernels
 * every backend has:
 * - input gradient, dense or grouped: tf.conv2dTranspose (Conv2DBackpropInput) per group, with the
 *   filter dilated by inserting zeros;
 * - input gradient, depthwise: the correlation of dy, dilated by the stride (zeros between rows and
 *   columns), with the spatially flipped filter: a stride-1 depthwise conv (Dumoulin & Visin, "A guide to
 *   convolution arithmetic for deep learning", 2016, section 4);
 * - filter gradient: im2col by strided slices of the padded input, one per kernel tap, then one
 *   matmul per kernel row (dense / grouped) or a multiply-and-sum per tap (depthwise):
 *   dW[i, j, c, m] = sum over (n, p, q) of xpad[n, p*sh + i*dh, q*sw + j*dw, c] * dy[n, p, q, m].
 * `conv2dWithGrad` wires them into tf.customGrad, so training runs on every backend.
 */
import { tf } from '../backend.js';
import type { TfActivation } from '../fusion.js';
import { onTensorflow } from './matmul.js';
import { attr, mklOp, nativeBiasActivation, nativeOp, nativeOps, typeAttr } from '../tensorflow.js';

/** tfjs's explicit padding for NHWC: [[0, 0], [top, bottom], [left, right], [0, 0]]. */
type Explicit = [[number, number], [number, number], [number, number], [number, number]];

/** How the channels are grouped: one group, one input channel per group (depthwise), or other groups. */
export type ConvKind = 'dense' | 'depthwise' | 'grouped';

/** A 2-D convolution in NHWC terms. */
export interface Conv2DParams {
  strides: [number, number];
  /** Dilations of the filter as handed over (1 when prepareFilter already inserted the zeros). */
  dilations: [number, number];
  /** [top, bottom, left, right]. */
  pads: [number, number, number, number];
  group: number;
  kind: ConvKind;
}

/** The kind of a conv with `group` groups over `inChannels` input channels. */
export function convKind(group: number, inChannels: number): ConvKind {
  if (group === 1) return 'dense';
  return group === inChannels ? 'depthwise' : 'grouped';
}

/**
 * Inserts (d - 1) zeros between taps along `axis` of a filter, so a dilated filter can run undilated
 * (tfjs refuses strides and dilations both above 1; Conv2DBackpropInput has no dilation at all).
 */
export function dilateFilter(w: tf.Tensor, axis: number, d: number): tf.Tensor {
  const k = w.shape[axis]!;
  if (d === 1 || k === 1) return w;
  const shape = w.shape.slice();
  const expanded = tf.expandDims(w, axis + 1);
  const zerosShape = expanded.shape.slice();
  zerosShape[axis + 1] = d - 1;
  const inter = tf.concat([expanded, tf.zeros(zerosShape)], axis + 1);
  shape[axis] = k * d;
  const flat = tf.reshape(inter, shape);
  const size = shape.slice();
  size[axis] = (k - 1) * d + 1;
  return tf.slice(flat, new Array<number>(shape.length).fill(0), size);
}

/**
 * ONNX weights [M, C/group, kh, kw] in the layout tfjs wants: HWIO [kh, kw, C/group, M] for dense and
 * grouped convs; [kh, kw, C, M/C] for depthwise (tfjs orders depthwise outputs c * mult + j, which is
 * ONNX's order, output o reading input channel floor(o / mult)). With `dilateFor` (strides and dilations
 * both above 1) the dilation is built into the filter.
 */
export function prepareFilter(w: tf.Tensor4D, kind: ConvKind, group: number, dilateFor?: [number, number]): tf.Tensor4D {
  const [m, , kh, kw] = w.shape;
  let f: tf.Tensor = kind === 'depthwise' ? tf.transpose(tf.reshape(w, [group, m / group, kh, kw]), [2, 3, 0, 1]) : tf.transpose(w, [2, 3, 1, 0]);
  if (dilateFor) f = dilateFilter(dilateFilter(f, 0, dilateFor[0]), 1, dilateFor[1]);
  return f as tf.Tensor4D;
}

function explicit(p: Conv2DParams): Explicit {
  return [
    [0, 0],
    [p.pads[0], p.pads[1]],
    [p.pads[2], p.pads[3]],
    [0, 0],
  ];
}

/** Pads (positive) or crops (negative) the two spatial axes of an NHWC tensor. */
function padCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  let y = x;
  if (top > 0 || bottom > 0 || left > 0 || right > 0) {
    y = tf.pad(y, [
      [0, 0],
      [Math.max(top, 0), Math.max(bottom, 0)],
      [Math.max(left, 0), Math.max(right, 0)],
      [0, 0],
    ]);
  }
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [n, h, w, c] = y.shape;
    const t = Math.max(-top, 0);
    const l = Math.max(-left, 0);
    y = tf.slice(y, [0, t, l, 0], [n, h - t - Math.max(-bottom, 0), w - l - Math.max(-right, 0), c]);
  }
  return y;
}

/** Inserts (s - 1) zeros between consecutive entries along `axis` (a stride turned into a dilation). */
export function insertZeros(x: tf.Tensor, axis: number, s: number): tf.Tensor {
  const d = x.shape[axis]!;
  if (s === 1 || d === 1) return x;
  const e = tf.pad(
    tf.expandDims(x, axis + 1),
    x.shape.concat([1]).map((_, i) => [0, i === axis + 1 ? s - 1 : 0] as [number, number]),
  );
  const shape = x.shape.slice();
  shape[axis] = d * s;
  const size = shape.slice();
  size[axis] = (d - 1) * s + 1;
  return tf.slice(tf.reshape(e, shape), new Array<number>(shape.length).fill(0), size);
}

/**
 * conv2dForward at inference on TensorFlow: its Conv2D or DepthwiseConv2dNative with explicit pads, in
 * oneDNN's form where TensorFlow has it (runtime/tensorflow.ts's mklOp: faster on every conv measured,
 * and a depthwise kernel that takes unequal strides; a dense conv adds its bias in the same op), then
 * BiasAdd and the activation, each one native op (tfjs's fused conv goes through tfjs-core's wrappers).
 * Without oneDNN, equal strides only (Eigen's depthwise kernel; conv2dForward handles the others).
 */
function nativeConv2d(x: tf.Tensor4D, f: tf.Tensor4D, p: Conv2DParams, bias?: tf.Tensor1D, act?: TfActivation): tf.Tensor4D {
  const withBias = bias && p.kind === 'dense' ? mklOp('Conv2DWithBias') : undefined;
  const name = p.kind === 'depthwise' ? 'DepthwiseConv2dNative' : 'Conv2D';
  const mkl = withBias ?? mklOp(name);
  const padded = p.pads.some((v) => v !== 0);
  const attrs = [
    typeAttr('float32'),
    attr.int('strides', [1, p.strides[0], p.strides[1], 1]),
    attr.string('padding', padded ? 'EXPLICIT' : 'VALID'),
    ...(padded ? [attr.int('explicit_paddings', [0, 0, p.pads[0], p.pads[1], p.pads[2], p.pads[3], 0, 0])] : []),
    attr.string('data_format', 'NHWC'),
    attr.int('dilations', [1, p.dilations[0], p.dilations[1], 1]),
    ...(mkl ? [mkl.label] : []),
  ];
  if (withBias) return nativeBiasActivation(nativeOp(withBias.name, [x, f, bias!], attrs), undefined, act) as tf.Tensor4D;
  const y = nativeOp(mkl?.name ?? name, [x, f], attrs);
  return nativeBiasActivation(y, bias, act) as tf.Tensor4D;
}

/**
 * y = act(conv(x, f) + bias) for NHWC x and a filter from prepareFilter; `bias` [M] and the activation
 * (runtime/fusion.ts) are fused into the conv where tfjs can (on wasm, XNNPACK's output clamp: one pass
 * over the output less for each). Note that XNNPACK's clamp turns NaN into its lower bound, -Infinity
 * without an activation, as onnxruntime's fused Conv+Relu (MLAS) does. `inference` (no gradient
 * needed) lets TensorFlow run its own ops directly. Call inside a tidy.
 */
export function conv2dForward(x: tf.Tensor4D, f: tf.Tensor4D, p: Conv2DParams, bias?: tf.Tensor1D, act?: TfActivation, inference = false): tf.Tensor4D {
  if (inference && p.kind !== 'grouped' && nativeOps() && (p.strides[0] === p.strides[1] || mklOp('DepthwiseConv2dNative'))) return nativeConv2d(x, f, p, bias, act);
  const pad = explicit(p);
  const activation = act?.kind;
  const leakyreluAlpha = act?.kind === 'leakyrelu' ? act.alpha : undefined;
  if (p.kind === 'dense') {
    return bias || act
      ? tf.fused.conv2d({ x, filter: f, strides: p.strides, pad, dataFormat: 'NHWC', dilations: p.dilations, bias, activation, leakyreluAlpha })
      : tf.conv2d(x, f, p.strides, pad, 'NHWC', p.dilations);
  }
  if (p.kind === 'depthwise') {
    // TensorFlow's own depthwise kernel (Eigen, without oneDNN) takes equal strides only: run it at
    // stride 1 and keep every sh-th row and sw-th column (the same products, sh * sw times the work).
    if (p.strides[0] !== p.strides[1] && onTensorflow()) {
      const full = conv2dForward(x, f, { ...p, strides: [1, 1] }, bias, act, inference);
      const [n, h, w, c] = full.shape;
      return tf.stridedSlice(full, [0, 0, 0, 0], [n, h, w, c], [1, p.strides[0], p.strides[1], 1]) as tf.Tensor4D;
    }
    return bias || act
      ? // The fused op's type omits explicit padding, which its implementation (computeConv2DInfo) takes.
        tf.fused.depthwiseConv2d({ x, filter: f, strides: p.strides, pad: pad as never, dataFormat: 'NHWC', dilations: p.dilations, bias, activation, leakyreluAlpha })
      : tf.depthwiseConv2d(x, f, p.strides, pad, 'NHWC', p.dilations);
  }
  const cg = f.shape[2];
  const mg = f.shape[3] / p.group;
  const parts: tf.Tensor4D[] = [];
  for (let g = 0; g < p.group; g++) {
    const xg = tf.slice(x, [0, 0, 0, g * cg], [-1, -1, -1, cg]);
    const fg = tf.slice(f, [0, 0, 0, g * mg], [-1, -1, -1, mg]);
    parts.push(tf.conv2d(xg, fg, p.strides, pad, 'NHWC', p.dilations));
  }
  const y = tf.concat(parts, 3);
  const yb: tf.Tensor4D = bias ? tf.add(y, bias) : y;
  if (!act) return yb;
  if (act.kind === 'relu') return tf.relu(yb);
  return act.kind === 'relu6' ? tf.relu6(yb) : tf.leakyRelu(yb, act.alpha);
}

/**
 * tf.conv2dTranspose of dy with filter `f` (dilation built in) to `xShape`, with the conv's explicit pads.
 * tfjs-node's Conv2DBackpropInput takes only 'valid' and 'same': there, the full ('valid') transposed
 * conv is cropped to the pads (or padded with zeros, for output rows no tap reaches).
 */
function conv2dTransposeExplicit(dy: tf.Tensor4D, f: tf.Tensor4D, xShape: [number, number, number, number], p: Conv2DParams): tf.Tensor4D {
  if (!onTensorflow()) return tf.conv2dTranspose(dy, f, xShape, p.strides, explicit(p));
  const [n, h, w, c] = xShape;
  const fullH = (dy.shape[1] - 1) * p.strides[0] + f.shape[0];
  const fullW = (dy.shape[2] - 1) * p.strides[1] + f.shape[1];
  const full = tf.conv2dTranspose(dy, f, [n, fullH, fullW, c], p.strides, 'valid');
  return padCrop(full, -p.pads[0], h + p.pads[0] - fullH, -p.pads[2], w + p.pads[2] - fullW);
}

/**
 * The gradient of conv2dForward with respect to x (its adjoint): dy [N, P, Q, M] -> [N, H, W, C] for
 * `xShape` [N, H, W, C]. Also ConvTranspose's forward pass. Call inside a tidy.
 */
export function conv2dBackpropInput(dy: tf.Tensor4D, f: tf.Tensor4D, xShape: [number, number, number, number], p: Conv2DParams): tf.Tensor4D {
  const [dh, dw] = p.dilations;
  const fd = dilateFilter(dilateFilter(f, 0, dh), 1, dw) as tf.Tensor4D;
  const [keh, kew] = [fd.shape[0], fd.shape[1]];
  if (p.kind === 'dense') return conv2dTransposeExplicit(dy, fd, xShape, p);
  if (p.kind === 'grouped') {
    const cg = f.shape[2];
    const mg = f.shape[3] / p.group;
    const parts: tf.Tensor4D[] = [];
    for (let g = 0; g < p.group; g++) {
      const dyg = tf.slice(dy, [0, 0, 0, g * mg], [-1, -1, -1, mg]);
      const fg = tf.slice(fd, [0, 0, 0, g * mg], [-1, -1, -1, mg]);
      parts.push(conv2dTransposeExplicit(dyg, fg as tf.Tensor4D, [xShape[0], xShape[1], xShape[2], cg], p));
    }
    return tf.concat(parts, 3);
  }
  // Depthwise: correlate the stride-dilated dy with the flipped filter, then sum each channel's
  // multiplier outputs. Pads make the correlation "full": keh - 1 - top before, the rest after.
  const [n, h, w, c] = xShape;
  const mult = f.shape[3];
  const dyd = insertZeros(insertZeros(dy, 1, p.strides[0]), 2, p.strides[1]) as tf.Tensor4D;
  const top = keh - 1 - p.pads[0];
  const left = kew - 1 - p.pads[2];
  const bottom = h + keh - 1 - dyd.shape[1] - top;
  const right = w + kew - 1 - dyd.shape[2] - left;
  const padded = padCrop(dyd, top, bottom, left, right);
  const flipped = tf.reshape(tf.reverse(fd, [0, 1]), [keh, kew, c * mult, 1]) as tf.Tensor4D;
  const y = tf.depthwiseConv2d(padded, flipped, 1, 'valid', 'NHWC', 1);
  return mult === 1 ? y : (tf.sum(tf.reshape(y, [n, h, w, c, mult]), 4) as tf.Tensor4D);
}

/** One im2col tap: the input pixels kernel tap (i, j) meets at every output position, [N, P, Q, C]. */
function tapSlice(xpad: tf.Tensor4D, i: number, j: number, outH: number, outW: number, p: Conv2DParams, dil: [number, number]): tf.Tensor4D {
  const [n, , , c] = xpad.shape;
  const [sh, sw] = p.strides;
  const r0 = i * dil[0];
  const c0 = j * dil[1];
  return tf.stridedSlice(xpad, [0, r0, c0, 0], [n, r0 + (outH - 1) * sh + 1, c0 + (outW - 1) * sw + 1, c], [1, sh, sw, 1]) as tf.Tensor4D;
}

/** Dense filter gradient [kh, kw, C, M] of x [N, H, W, C] (already padded) against dy [N, P, Q, M]. */
function denseFilterGrad(xpad: tf.Tensor4D, dy: tf.Tensor4D, kh: number, kw: number, p: Conv2DParams, dil: [number, number]): tf.Tensor4D {
  const [n, outH, outW, m] = dy.shape;
  const c = xpad.shape[3];
  const rows = n * outH * outW;
  // dy^T once: the wasm backend's matmul is fast only without transpose flags.
  const dyT = tf.transpose(tf.reshape(dy, [rows, m]));
  const perRow: tf.Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    const taps: tf.Tensor4D[] = [];
    for (let j = 0; j < kw; j++) taps.push(tapSlice(xpad, i, j, outH, outW, p, dil));
    const cols = tf.reshape(taps.length === 1 ? taps[0]! : tf.concat(taps, 3), [rows, kw * c]);
    perRow.push(tf.matMul(dyT as tf.Tensor2D, cols as tf.Tensor2D));
  }
  const dWT = perRow.length === 1 ? perRow[0]! : tf.concat(perRow, 1);
  return tf.reshape(tf.transpose(dWT), [kh, kw, c, m]);
}

/**
 * The gradient of conv2dForward with respect to the filter: [kh, kw, C/group, M] (or [kh, kw, C, mult]
 * for depthwise) for x [N, H, W, C] and dy [N, P, Q, M]. Call inside a tidy.
 */
export function conv2dBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, fShape: [number, number, number, number], p: Conv2DParams): tf.Tensor4D {
  const [kh, kw] = fShape;
  const xpad = padCrop(x, p.pads[0], p.pads[1], p.pads[2], p.pads[3]);
  const dil = p.dilations;
  if (p.kind === 'dense') return denseFilterGrad(xpad, dy, kh, kw, p, dil);
  const [n, outH, outW, m] = dy.shape;
  if (p.kind === 'grouped') {
    const cg = fShape[2];
    const mg = m / p.group;
    const parts: tf.Tensor4D[] = [];
    for (let g = 0; g < p.group; g++) {
      const xg = tf.slice(xpad, [0, 0, 0, g * cg], [-1, -1, -1, cg]);
      const dyg = tf.slice(dy, [0, 0, 0, g * mg], [-1, -1, -1, mg]);
      parts.push(denseFilterGrad(xg, dyg, kh, kw, p, dil));
    }
    return tf.concat(parts, 3);
  }
  const c = x.shape[3];
  const mult = fShape[3];
  const rows = n * outH * outW;
  const dy3 = tf.reshape(dy, [rows, c, mult]);
  const taps: tf.Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const xs = tf.reshape(tapSlice(xpad, i, j, outH, outW, p, dil), [rows, c, 1]);
      taps.push(tf.sum(tf.mul(xs, dy3), 0));
    }
  }
  return tf.reshape(tf.stack(taps), [kh, kw, c, mult]);
}

/**
 * conv2dForward as a differentiable function with the gradients above (tf.customGrad), for training on
 * backends without tfjs's conv gradient kernels. Bias is left to the caller (a plain add).
 */
export function conv2dWithGrad(x: tf.Tensor4D, f: tf.Tensor4D, p: Conv2DParams): tf.Tensor4D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, fi, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([xi, fi]);
    return {
      value: conv2dForward(xi, fi, p),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, fs] = saved as [tf.Tensor4D, tf.Tensor4D];
        const d = dy as tf.Tensor4D;
        return [conv2dBackpropInput(d, fs, xs.shape, p), conv2dBackpropFilter(xs, d, fs.shape, p)];
      },
    };
  });
  return op(x, f) as tf.Tensor4D;
}

/**
 * The transposed convolution (the adjoint of conv2dForward for an input of shape `outShape`) as a
 * differentiable function: its input gradient is the forward conv, its filter gradient the conv's filter
 * gradient with the roles of input and output swapped.
 */
export function conv2dTransposeWithGrad(x: tf.Tensor4D, f: tf.Tensor4D, outShape: [number, number, number, number], p: Conv2DParams): tf.Tensor4D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, fi, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([xi, fi]);
    return {
      value: conv2dBackpropInput(xi, fi, outShape, p),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, fs] = saved as [tf.Tensor4D, tf.Tensor4D];
        const g = dy as tf.Tensor4D;
        return [conv2dForward(g, fs, p), conv2dBackpropFilter(g, xs, fs.shape, p)];
      },
    };
  });
  return op(x, f) as tf.Tensor4D;
}
