/**
 * The maths of a fused epilogue (runtime/fusion.ts): affine steps after a Conv or MatMul, each per
 * output channel or scalar, folded into one scale and shift per channel, which then fold into the
 * weights and bias: act(conv(x, W) * s + t) = act(conv(x, W * s) + (B * s + t)), and likewise
 * act((A @ B) * s + t) = act(A @ (B * s) + t) with s, t along B's columns. The folded weights differ from
 * the step-by-step result only by float rounding (a few ulps), as onnxruntime's own fusions do.
 */
import { tf } from '../backend.js';
import type { Epilogue, ResolvedStep, StepKind, TfActivation } from '../fusion.js';
import type { RTensor } from '../value.js';

/**
 * True when `t` broadcasts against a conv output [N, M, H, W] as a per-channel or scalar operand (one
 * value, or dims [M, 1, 1] / [1, M, 1, 1]); BatchNormalization parameters are [M].
 */
export function perChannel(t: RTensor, m: number, kind: StepKind): boolean {
  if (kind === 'batchnorm') return t.rank === 1 && t.dims[0] === m;
  if (t.size === 1) return t.rank <= 4;
  if (t.rank > 4 || t.rank < 3) return false;
  const padded = [...new Array<number>(4 - t.rank).fill(1), ...t.dims];
  return padded[0] === 1 && padded[1] === m && padded[2] === 1 && padded[3] === 1;
}

/**
 * True when `t` broadcasts against a product's output [..., N] (rank `rank`) along its last axis
 * without changing its shape: one value or [1, ..., 1, N], of rank at most `rank`.
 */
export function perColumn(t: RTensor, n: number, rank: number, kind: StepKind): boolean {
  if (kind === 'batchnorm' || t.rank > rank) return false;
  if (t.size === 1) return true;
  return t.dims[t.rank - 1] === n && t.dims.slice(0, -1).every((d) => d === 1);
}

/** True when some step scales (Mul, Div, BatchNormalization): the weights then change, not only the bias. */
export function scales(steps: readonly ResolvedStep[]): boolean {
  return steps.some((s) => s.kind === 'mul' || s.kind === 'div' || s.kind === 'batchnorm');
}

/**
 * The per-channel scale (null when no step scales) and shift [M] of the epilogue's affine steps,
 * starting from the conv's bias (or zero). Call inside a tidy.
 */
export function foldSteps(steps: readonly ResolvedStep[], bias: tf.Tensor | null, m: number): { scale: tf.Tensor1D | null; shift: tf.Tensor1D } {
  let s: tf.Tensor | null = null;
  let t: tf.Tensor = bias ? tf.reshape(bias, [m]) : tf.zeros([m]);
  const vec = (r: RTensor): tf.Tensor => (r.size === 1 ? tf.reshape(r.tf, []) : tf.reshape(r.tf, [m]));
  for (const step of steps) {
    const [k] = step.operands.map(vec);
    switch (step.kind) {
      case 'mul':
        s = s ? tf.mul(s, k!) : tf.mul(tf.ones([m]), k!);
        t = tf.mul(t, k!);
        break;
      case 'div':
        s = s ? tf.div(s, k!) : tf.div(tf.ones([m]), k!);
        t = tf.div(t, k!);
        break;
      case 'add':
        t = tf.add(t, k!);
        break;
      case 'sub':
        t = tf.sub(t, k!);
        break;
      case 'batchnorm': {
        const [scale, b, mean, variance] = step.operands.map(vec) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const a = tf.div(scale, tf.sqrt(tf.add(variance, step.epsilon ?? 1e-5)));
        s = s ? tf.mul(s, a) : a;
        t = tf.add(tf.mul(tf.sub(t, mean), a), b);
        break;
      }
    }
  }
  return { scale: s as tf.Tensor1D | null, shift: t as tf.Tensor1D };
}

/** The epilogue's activation when tfjs fuses it into the product (hardswish is applied after: `finish`). */
export function tfActivation(ep: Epilogue | undefined): TfActivation | undefined {
  const a = ep?.activation;
  return a && a.kind !== 'hardswish' ? a : undefined;
}

/**
 * What follows the fused product `y` (channels last: [..., N]): a hardswish y * relu6(y + shift), then
 * the post-activation steps as one multiply and one add, the shift and vectors kept in the epilogue's
 * cache.
 * Call inside a tidy.
 */
export function finish(y: tf.Tensor, ep: Epilogue, n: number): tf.Tensor {
  let out = y;
  const act = ep.activation;
  // The shift as a kept scalar, not a tensor made (and on TensorFlow, uploaded) in every run.
  if (act?.kind === 'hardswish') out = tf.mul(out, tf.relu6(tf.add(out, ep.cache('hardswish-shift', () => tf.scalar(act.shift)))));
  if (ep.post.length === 0) return out;
  if (scales(ep.post)) out = tf.mul(out, ep.cache('post-scale', () => foldSteps(ep.post, null, n).scale!));
  if (ep.post.some((s) => s.kind === 'add' || s.kind === 'sub')) out = tf.add(out, ep.cache('post-shift', () => foldSteps(ep.post, null, n).shift));
  return out;
}
