/**
 * ConvTranspose (ONNX): the adjoint of Conv. X [N, C, *in] and W [C, M/group, *kernel] give
 * Y [N, M, *out] (+ bias B [M]); attributes strides, dilations, pads, output_padding, output_shape,
 * auto_pad, group, kernel_shape; 1-D, 2-D and 3-D.
 *
 * Output size and pads: when pads are derived (auto_pad SAME_* or output_shape), the total
 * t = stride * (in - 1) + output_padding + (kernel - 1) * dilation + 1 - out is clamped at 0 (as
 * onnxruntime does) and split with the odd pixel at the tail for SAME_UPPER, at the head otherwise (the
 * spec's rule). With auto_pad SAME_* and no output_shape, out = in * stride.
 *
 * How it runs: W viewed as the filter of a Conv from M channels to C channels is exactly ONNX's layout,
 * so Y is that conv's input gradient (util/conv.ts conv2dBackpropInput, tf.conv2dTranspose underneath)
 * for 1-D / 2-D, NHWC inside. The common upsampling case (kernel == stride, no pads, one group: each
 * input pixel paints its own k x k block) is one matrix product W^T [M*k*k, C] @ X [C, H*W] in NCHW plus
 * a block shuffle. 3-D is a tf.conv3d of the stride-dilated input with the flipped filter.
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import type { Value } from '../../ir/value.js';
import { derived } from '../util/constcache.js';
import { conv2dBackpropInput, conv2dTransposeWithGrad, convKind, dilateFilter, insertZeros, prepareFilter, type Conv2DParams } from '../util/conv.js';
import { onDevice } from '../util/device.js';
import { RTensor } from '../value.js';

/** Resolved ConvTranspose geometry per spatial axis. */
interface Geometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Pads at the head of each axis. */
  head: number[];
  /** Pads at the tail, output_padding already taken off (may be negative: zero rows appended). */
  tail: number[];
  out: number[];
  group: number;
}

function geometry(ctx: KernelContext, inSpatial: readonly number[], wSpatial: readonly number[]): Geometry {
  const node = ctx.node;
  const r = inSpatial.length;
  const kernel = node.attrInts('kernel_shape') ?? wSpatial.slice();
  if (kernel.length !== r || kernel.some((k, i) => k !== wSpatial[i])) {
    throw new ModelError(`${node.describe()}: kernel_shape [${kernel.join(',')}] does not match the weight's spatial shape [${wSpatial.join(',')}]`);
  }
  const ones = new Array<number>(r).fill(1);
  const strides = node.attrInts('strides') ?? ones;
  const dilations = node.attrInts('dilations') ?? ones;
  const adj = node.attrInts('output_padding') ?? new Array<number>(r).fill(0);
  const pads = (node.attrInts('pads') ?? new Array<number>(2 * r).fill(0)).slice();
  const outAttr = node.attrInts('output_shape');
  const autoPad = node.attrString('auto_pad', 'NOTSET');
  if (!['NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(autoPad)) {
    throw new ModelError(`${node.describe()}: unknown auto_pad '${autoPad}'`, 'use NOTSET, VALID, SAME_UPPER or SAME_LOWER');
  }
  if (strides.length !== r || dilations.length !== r || adj.length !== r || pads.length !== 2 * r) {
    throw new ModelError(`${node.describe()}: strides/dilations/output_padding/pads lengths do not match ${r} spatial axes`);
  }
  if (outAttr && outAttr.length !== r && outAttr.length !== r + 2) {
    throw new ModelError(`${node.describe()}: output_shape [${outAttr.join(',')}] must list ${r} spatial sizes`);
  }
  const head: number[] = [];
  const tail: number[] = [];
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const span = (kernel[i]! - 1) * dilations[i]! + 1;
    const full = (inSpatial[i]! - 1) * strides[i]! + adj[i]! + span;
    let ph = pads[i]!;
    let pt = pads[i + r]!;
    const wanted = outAttr ? outAttr[outAttr.length === r ? i : i + 2]! : autoPad.startsWith('SAME') ? inSpatial[i]! * strides[i]! : undefined;
    if (wanted !== undefined) {
      const total = Math.max(0, full - wanted);
      const small = Math.floor(total / 2);
      [ph, pt] = autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
    } else if (autoPad === 'VALID') {
      [ph, pt] = [0, 0];
    }
    const o = outAttr ? wanted! : full - ph - pt;
    if (o < 1) throw new ModelError(`${node.describe()}: output size ${o} on spatial axis ${i} is not positive`);
    head.push(ph);
    // Rows past the natural end (output_padding, or an output_shape larger than the full result)
    // receive no contribution: a negative tail pad, filled with zeros afterwards.
    tail.push(full - adj[i]! - ph - o);
    out.push(o);
  }
  return { kernel, strides, dilations, head, tail, out, group: node.attrInt('group', 1) };
}

function run(inputs: readonly (RTensor | null)[], ctx: KernelContext): (RTensor | null)[] {
  const X = required(inputs, 0, ctx);
  const W = required(inputs, 1, ctx);
  const B = inputs[2] ?? null;
  const node = ctx.node;
  const r = X.rank - 2;
  if (r < 1 || r > 3) throw new ModelError(`${node.describe()}: only 1-D, 2-D and 3-D transposed convolutions are supported, got input [${X.dims.join(',')}]`);
  if (W.rank !== X.rank) throw new ModelError(`${node.describe()}: W [${W.dims.join(',')}] must have the rank of X [${X.dims.join(',')}]`);
  const g = geometry(ctx, X.dims.slice(2), W.dims.slice(2));
  const c = X.dims[1]!;
  const m = W.dims[1]! * g.group;
  if (W.dims[0] !== c || c % g.group !== 0) throw new ModelError(`${node.describe()}: X has ${c} channels and W is [${W.dims.join(',')}], which do not fit group ${g.group}`);
  if (B && B.size !== m) throw new ModelError(`${node.describe()}: bias B has ${B.size} values for ${m} output channels`);
  onDevice(X, W, B);
  const y = tf.tidy(() => {
    let out: tf.Tensor;
    if (r === 3) out = convTranspose3d(X.tf, W.tf, g, m);
    else if (isBlockUpsample(g)) out = blockUpsample(X, W, g, m, node.input(1));
    else out = convTranspose12d(X, W, g, m, ctx.training, node.input(1));
    return B ? tf.add(out, tf.reshape(B.tf, [m, ...new Array<number>(r).fill(1)])) : out;
  });
  return [RTensor.fromTf(y, X.dataType)];
}

/** kernel == stride, no dilation or pads, one group: output blocks do not overlap. */
function isBlockUpsample(g: Geometry): boolean {
  return g.group === 1 && g.kernel.every((k, i) => k === g.strides[i] && g.dilations[i] === 1 && g.head[i] === 0 && g.tail[i] === 0);
}

/** Y[n] = shuffle(W^T [M*k*k, C] @ X[n] [C, H*W]) for non-overlapping blocks (1-D or 2-D). */
function blockUpsample(X: RTensor, W: RTensor, g: Geometry, m: number, origin: Value | null): tf.Tensor {
  const [n, c] = X.dims as [number, number];
  const inS = X.dims.slice(2);
  const k = g.kernel;
  const kk = k.reduce((a, b) => a * b, 1);
  const hw = inS.reduce((a, b) => a * b, 1);
  const wt = derived(W, 'convT:block', (w) => tf.transpose(tf.reshape(w, [c, m * kk])), origin).t as tf.Tensor2D;
  const one = (xi: tf.Tensor): tf.Tensor => {
    const cols = tf.matMul(wt, tf.reshape(xi, [c, hw]) as tf.Tensor2D);
    if (inS.length === 1) return tf.reshape(tf.transpose(tf.reshape(cols, [m, k[0]!, inS[0]!]), [0, 2, 1]), [m, inS[0]! * k[0]!]);
    const [h, w] = inS as [number, number];
    const blocks = tf.transpose(tf.reshape(cols, [m, k[0]!, k[1]!, h, w]), [0, 3, 1, 4, 2]);
    return tf.reshape(blocks, [m, h * k[0]!, w * k[1]!]);
  };
  if (n === 1) return tf.expandDims(one(X.tf), 0);
  const parts: tf.Tensor[] = [];
  for (let i = 0; i < n; i++) parts.push(one(tf.squeeze(tf.slice(X.tf, [i], [1]), [0])));
  return tf.stack(parts);
}

/** Pads (positive) or crops (negative) the tail of each spatial axis of an NHWC / NDHWC tensor. */
function fixTail(y: tf.Tensor, tails: number[]): tf.Tensor {
  if (tails.every((t) => t >= 0)) return y;
  return tf.pad(
    y,
    y.shape.map((_, i) => [0, i >= 1 && i <= tails.length ? Math.max(0, -tails[i - 1]!) : 0] as [number, number]),
  );
}

/** 1-D / 2-D through util/conv.ts in NHWC. */
function convTranspose12d(X: RTensor, W: RTensor, g: Geometry, m: number, training: boolean, origin: Value | null): tf.Tensor {
  const r = X.rank - 2;
  const [n, c] = X.dims as [number, number];
  const lift = <T>(v: T[], neutral: T): [T, T] => (r === 1 ? [neutral, v[0]!] : [v[0]!, v[1]!]);
  const k2 = lift(g.kernel, 1);
  const tails = lift(g.tail, 0);
  const heads = lift(g.head, 0);
  const kind = convKind(g.group, m);
  const p: Conv2DParams = {
    strides: lift(g.strides, 1),
    dilations: lift(g.dilations, 1),
    pads: [heads[0], Math.max(tails[0], 0), heads[1], Math.max(tails[1], 0)],
    group: g.group,
    kind,
  };
  const f = derived(W, `convT:${kind}:${g.group}:${r}`, (w) => prepareFilter(tf.reshape(w, [c, m / g.group, k2[0], k2[1]]) as tf.Tensor4D, kind, g.group), origin).t as tf.Tensor4D;
  const out2 = lift(g.out, 1);
  const natural: [number, number, number, number] = [n, out2[0] + Math.min(tails[0], 0), out2[1] + Math.min(tails[1], 0), m];
  const x4 = r === 1 ? tf.reshape(X.tf, [n, c, 1, X.dims[2]!]) : X.tf;
  const xh = tf.transpose(x4, [0, 2, 3, 1]) as tf.Tensor4D;
  const yh = training ? conv2dTransposeWithGrad(xh, f, natural, p) : conv2dBackpropInput(xh, f, natural, p);
  const y = tf.transpose(fixTail(yh, tails), [0, 3, 1, 2]);
  return r === 1 ? tf.reshape(y, [n, m, g.out[0]!]) : y;
}

/**
 * 3-D: the full transposed conv as the correlation of the stride-dilated input with the flipped filter
 * (tf.conv3d; the wasm backend's Conv3DBackpropInputV2 gives wrong sums with several channels), then
 * crop the head pads and pad zeros where the output runs past the full result.
 */
function convTranspose3d(x: tf.Tensor, w: tf.Tensor, g: Geometry, m: number): tf.Tensor {
  const [n, c] = x.shape as [number, number];
  let xd: tf.Tensor = tf.transpose(x, [0, 2, 3, 4, 1]);
  for (let a = 0; a < 3; a++) xd = insertZeros(xd, a + 1, g.strides[a]!);
  // Filter as a conv3d from C to M/group channels, flipped in space: [kd, kh, kw, C, M/group].
  let f: tf.Tensor = tf.reverse(tf.transpose(w, [2, 3, 4, 0, 1]), [0, 1, 2]);
  for (let a = 0; a < 3; a++) f = dilateFilter(f, a, g.dilations[a]!);
  const span = [f.shape[0]!, f.shape[1]!, f.shape[2]!];
  const padded = tf.pad(xd, [[0, 0], ...span.map((k) => [k - 1, k - 1] as [number, number]), [0, 0]]) as tf.Tensor5D;
  const cg = c / g.group;
  const parts: tf.Tensor[] = [];
  for (let k = 0; k < g.group; k++) {
    const xg = g.group === 1 ? padded : (tf.slice(padded, [0, 0, 0, 0, k * cg], [-1, -1, -1, -1, cg]) as tf.Tensor5D);
    const fg = (g.group === 1 ? f : tf.slice(f, [0, 0, 0, k * cg, 0], [-1, -1, -1, cg, -1])) as tf.Tensor5D;
    parts.push(tf.conv3d(xg, fg, 1, 'valid', 'NDHWC'));
  }
  let yh = parts.length === 1 ? parts[0]! : tf.concat(parts, 4);
  const full = yh.shape.slice(1, 4) as number[];
  const extra = g.out.map((o, i) => Math.max(0, g.head[i]! + o - full[i]!));
  if (extra.some((e) => e > 0)) yh = tf.pad(yh, [[0, 0], ...extra.map((e) => [0, e] as [number, number]), [0, 0]]);
  yh = tf.slice(yh, [0, ...g.head, 0], [n, ...g.out, m]);
  return tf.transpose(yh, [0, 4, 1, 2, 3]);
}

/** Since-version 11 changed how output_shape/auto_pad pads are documented; one kernel serves 1 and 11. */
export const ConvTranspose: OpKernel[] = [{ domain: '', opType: 'ConvTranspose', since: 1, run }];
