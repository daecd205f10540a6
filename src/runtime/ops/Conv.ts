/**
 * Conv (ONNX): float convolution of X [N, C, *spatial] with W [M, C/group, *kernel] plus optional bias
 * B [M], for 1, 2 and 3 spatial axes; attributes auto_pad (NOTSET, VALID, SAME_UPPER, SAME_LOWER), pads,
 * strides, dilations, group, kernel_shape.
 *
 * How it runs on tfjs:
 * - 2-D convs at inference run in NHWC (the only layout the wasm backend's XNNPACK convs take) through
 *   util/conv.ts (dense, depthwise when group == C, else one conv per group, bias fused) and hand their
 *   result on channels-last (RTensor.fromNhwc): the next conv, and the elementwise ops, pools and
 *   normalisations between, take it as it is, so a conv chain transposes only where it meets a kernel
 *   that needs [N, C, H, W]. A pointwise conv is then a product with the constant weight on XNNPACK's
 *   packed side (in NCHW, W @ X, the activation would be re-packed every run: ~2x slower at 64 channels);
 * - in training mode, and for 1-D convs: a pointwise conv (1x1 kernel, stride 1, no pads, one group) is
 *   a matrix product straight in NCHW, Y[n] = W [M, C] @ X[n] [C, H*W]; other convs transpose to NHWC
 *   and back around util/conv.ts, 1-D as 2-D with a height of one; training uses util/conv.ts's custom
 *   gradients, which every backend can run;
 * - 3-D runs tf.conv3d on NDHWC with explicit padding, one call per group.
 * The filter is rearranged once per session for constant weights. At inference the session may hand a
 * 2-D conv an epilogue (runtime/fusion.ts: the affine ops and activation after it), folded into the
 * filter and bias once per session and run as the fused conv's activation.
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import type { Value } from '../../ir/value.js';
import { derived, stable } from '../util/constcache.js';
import { finish, foldSteps, scales, tfActivation } from '../util/epilogue.js';
import type { Epilogue } from '../fusion.js';
import { conv2dForward, conv2dWithGrad, convKind, dilateFilter, prepareFilter, type Conv2DParams } from '../util/conv.js';
import { convGeometry, type ConvGeometry } from '../util/intconv.js';
import { onDevice } from '../util/device.js';
import { batchMatMul, onTensorflow } from '../util/matmul.js';
import { RTensor } from '../value.js';

function run(inputs: readonly (RTensor | null)[], ctx: KernelContext): (RTensor | null)[] {
  const X = required(inputs, 0, ctx);
  const W = required(inputs, 1, ctx);
  const B = inputs[2] ?? null;
  const node = ctx.node;
  const r = X.rank - 2;
  if (r < 1 || r > 3) throw new ModelError(`${node.describe()}: only 1-D, 2-D and 3-D convolutions are supported, got input [${X.dims.join(',')}]`);
  if (W.rank !== X.rank) throw new ModelError(`${node.describe()}: W [${W.dims.join(',')}] must have the rank of X [${X.dims.join(',')}]`);
  const geom = convGeometry(ctx, X.dims.slice(2), W.dims.slice(2));
  const [n, c] = X.dims as [number, number];
  const [m, cg] = W.dims as [number, number];
  if (c !== cg * geom.group || m % geom.group !== 0) {
    throw new ModelError(`${node.describe()}: X has ${c} channels and W is [${W.dims.join(',')}], which do not fit group ${geom.group}`);
  }
  if (B && B.size !== m) throw new ModelError(`${node.describe()}: bias B has ${B.size} values for ${m} output channels`);
  // W is not converted here: at inference a 2-D conv only needs its prepared filter (kept per session),
  // made from the host array when W is a constant.
  onDevice(X, B);
  if (r === 2 && !ctx.training) {
    const ep = ctx.epilogue;
    const yh = tf.tidy(() => {
      const { f, p } = filterFor(X, W, geom, node.inputs, ep);
      // A stable bias tensor too: the wasm backend keys its cached XNNPACK conv on filter and bias.
      let bias = B ? (vector(stable(B, node.inputs[2]), m) as tf.Tensor1D) : undefined;
      if (ep && ep.steps.length > 0) bias = ep.cache('bias', () => foldSteps(ep.steps, B?.tf ?? null, m).shift) as tf.Tensor1D;
      const y = conv2dForward(X.nhwc(), f, p, bias, tfActivation(ep), true);
      return ep ? (finish(y, ep, m) as tf.Tensor4D) : y;
    });
    return [RTensor.fromNhwc(yh, X.dataType)];
  }
  const y = tf.tidy(() => {
    if (r === 3) return conv3d(X, W, B, geom);
    if (geom.kernel.every((k) => k === 1) && geom.strides.every((s) => s === 1) && geom.pads.every((p) => p === 0) && geom.group === 1) {
      return pointwise(X.tf, W.tf, B?.tf, n, c, m, geom.out);
    }
    return conv12d(X, W, B, geom, ctx.training, node.inputs);
  });
  return [RTensor.fromTf(y, X.dataType)];
}

/** `t` as a vector [m] (reshaped only when it is not one already: a reshape is an op on TensorFlow). */
function vector(t: tf.Tensor, m: number): tf.Tensor {
  return t.rank === 1 ? t : tf.reshape(t, [m]);
}

/**
 * 1x1 conv in NCHW as W [M, C] @ X[n] [C, H*W], a batch as one product W @ [C, N*H*W] (util/matmul.ts:
 * a per-sample tf.slice would copy the whole batch each time on wasm).
 */
function pointwise(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | undefined, n: number, c: number, m: number, out: number[]): tf.Tensor {
  const hw = out.reduce((p, d) => p * d, 1);
  const w2 = tf.reshape(w, [m, c]);
  const y = batchMatMul(w2, tf.reshape(x, [n, c, hw]), 'pointwise conv');
  return tf.reshape(b ? tf.add(y, tf.reshape(b, [m, 1])) : y, [n, m, ...out]);
}

/**
 * The 2-D filter (prepared once per session for constant weights, with a fused epilogue's scale folded
 * in) and NHWC parameters of a 1-D or 2-D conv.
 */
function filterFor(X: RTensor, W: RTensor, geom: ConvGeometry, origins: readonly (Value | null)[], ep?: Epilogue): { f: tf.Tensor4D; p: Conv2DParams } {
  const r = X.rank - 2;
  const c = X.dims[1]!;
  const m = W.dims[0]!;
  // 1-D is 2-D with a unit height: every per-axis list gets a leading neutral entry.
  const k2 = r === 1 ? [1, geom.kernel[0]!] : geom.kernel;
  const s2: [number, number] = r === 1 ? [1, geom.strides[0]!] : [geom.strides[0]!, geom.strides[1]!];
  const d2: [number, number] = r === 1 ? [1, geom.dilations[0]!] : [geom.dilations[0]!, geom.dilations[1]!];
  const pads: [number, number, number, number] = r === 1 ? [0, 0, geom.pads[0]!, geom.pads[1]!] : [geom.pads[0]!, geom.pads[2]!, geom.pads[1]!, geom.pads[3]!];
  const kind = convKind(geom.group, c);
  // tfjs takes strides and dilations both above 1 only when the dilation is built into the filter, and
  // TensorFlow's depthwise kernel takes no dilation at all.
  const inFilter = (d2[0] > 1 || d2[1] > 1) && (s2[0] > 1 || s2[1] > 1 || (kind === 'depthwise' && onTensorflow()));
  const p: Conv2DParams = { strides: s2, dilations: inFilter ? [1, 1] : d2, pads, group: geom.group, kind };
  const make = (w: tf.Tensor, scale?: tf.Tensor): tf.Tensor => {
    let w4 = tf.reshape(w, [m, W.dims[1]!, k2[0]!, k2[1]!]) as tf.Tensor4D;
    if (scale) w4 = tf.mul(w4, tf.reshape(scale, [m, 1, 1, 1]));
    return prepareFilter(w4, kind, geom.group, inFilter ? d2 : undefined);
  };
  // Weights scaled by a fused epilogue are kept by the session (a constant W, by construction).
  const f = (
    ep && scales(ep.steps) ? ep.cache('filter', () => make(W.tfOnce(), foldSteps(ep.steps, null, m).scale!)) : derived(W, `conv2d:${kind}:${geom.group}:${inFilter ? d2.join('x') : '-'}:${r}`, (w) => make(w), origins[1]).t
  ) as tf.Tensor4D;
  return { f, p };
}

/** 1-D convs, and 2-D convs in training mode, through NHWC (util/conv.ts), back to NCHW. */
function conv12d(X: RTensor, W: RTensor, B: RTensor | null, geom: ConvGeometry, training: boolean, origins: readonly (Value | null)[]): tf.Tensor {
  const r = X.rank - 2;
  const [n, c] = X.dims as [number, number];
  const m = W.dims[0]!;
  const { f, p } = filterFor(X, W, geom, origins);
  const x4 = r === 1 ? tf.reshape(X.tf, [n, c, 1, X.dims[2]!]) : X.tf;
  const xh = tf.transpose(x4, [0, 2, 3, 1]) as tf.Tensor4D;
  let yh: tf.Tensor4D;
  if (training) {
    yh = conv2dWithGrad(xh, f, p);
    if (B) yh = tf.add(yh, tf.reshape(B.tf, [m]));
  } else {
    // A stable bias tensor too: the wasm backend keys its cached XNNPACK conv on filter and bias.
    yh = conv2dForward(xh, f, p, B ? (vector(stable(B, origins[2]), m) as tf.Tensor1D) : undefined, undefined, true);
  }
  const y = tf.transpose(yh, [0, 3, 1, 2]);
  return r === 1 ? tf.reshape(y, [n, m, geom.out[0]!]) : y;
}

/** 3-D conv on NDHWC, explicit pads, dilation built into the filter, one tf.conv3d per group. */
function conv3d(X: RTensor, W: RTensor, B: RTensor | null, geom: ConvGeometry): tf.Tensor {
  const m = W.dims[0]!;
  const cg = W.dims[1]!;
  const { group } = geom;
  const [p0, p1, p2, p3, p4, p5] = geom.pads as [number, number, number, number, number, number];
  const xp = tf.pad(tf.transpose(X.tf, [0, 2, 3, 4, 1]), [
    [0, 0],
    [p0, p3],
    [p1, p4],
    [p2, p5],
    [0, 0],
  ]) as tf.Tensor5D;
  let f: tf.Tensor = tf.transpose(W.tf, [2, 3, 4, 1, 0]);
  for (let a = 0; a < 3; a++) f = dilateFilter(f, a, geom.dilations[a]!);
  const strides = geom.strides as [number, number, number];
  let yh: tf.Tensor;
  if (group === 1) {
    yh = tf.conv3d(xp, f as tf.Tensor5D, strides, 'valid', 'NDHWC');
  } else {
    const mg = m / group;
    const parts: tf.Tensor[] = [];
    for (let g = 0; g < group; g++) {
      const xg = tf.slice(xp, [0, 0, 0, 0, g * cg], [-1, -1, -1, -1, cg]) as tf.Tensor5D;
      const fg = tf.slice(f, [0, 0, 0, 0, g * mg], [-1, -1, -1, -1, mg]) as tf.Tensor5D;
      parts.push(tf.conv3d(xg, fg, strides, 'valid', 'NDHWC'));
    }
    yh = tf.concat(parts, 4);
  }
  if (B) yh = tf.add(yh, tf.reshape(B.tf, [m]));
  return tf.transpose(yh, [0, 4, 1, 2, 3]);
}

/** Since-version 11 only changed how auto_pad/pads are documented; one kernel serves 1 and 11. */
export const Conv: OpKernel[] = [{ domain: '', opType: 'Conv', since: 1, run }];
