/**
 * Clip (ONNX): limits x to [min, max]. Before opset 11 the bounds are float attributes; since 11 they are
 * optional scalar inputs (omitted = unbounded), and since 12 integer types are allowed (exact on the host).
 * When min > max every element becomes max (the spec's rule, numpy's clip gives the same).
 */
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { RTensor } from '../value.js';
import { clamp, hostElements, hostOutput, intRange, isIntegral, isWide, physical, tfCompute, type HostScalar } from '../util/elementwise.js';

/** The first element of an optional bound input (a scalar, or a one-element tensor from some exporters). */
function bound(t: RTensor | null | undefined, big: boolean): HostScalar | undefined {
  if (!t || t.size === 0) return undefined;
  return hostElements(t, big)[0];
}

function clip(x: RTensor, lo: HostScalar | undefined, hi: HostScalar | undefined): RTensor {
  if (isIntegral(x.dataType) && !x.onDevice) {
    const src = hostElements(x, isWide(x.dataType));
    const { data, store } = hostOutput(x.dataType, x.size);
    for (let i = 0; i < x.size; i++) {
      let v = src[i]!;
      if (lo !== undefined && v < lo) v = lo;
      if (hi !== undefined && v > hi) v = hi;
      store(i, v);
    }
    return RTensor.fromHost(x.dataType, x.dims, data);
  }
  const { t, channelsLast } = physical(x);
  if (t.dtype === 'int32') {
    // Integer bounds on tfjs: clamped into int32 (tfjs-wasm's ClipByValue is float-only).
    const [tmin, tmax] = intRange(x.dataType);
    const l = Math.max(Number(lo ?? tmin), tmin, -2147483648);
    const h = Math.min(Number(hi ?? tmax), tmax, 2147483647);
    return tfCompute(x.dataType, [t], () => (l > h ? tf.fill(t.shape, h, 'int32') : clamp(t, l, h)), channelsLast);
  }
  const l = lo === undefined ? -Infinity : Number(lo);
  const h = hi === undefined ? Infinity : Number(hi);
  return tfCompute(x.dataType, [t], () => (l > h ? tf.fill(t.shape, h) : clamp(t, l, h)), channelsLast);
}

function clipAttr(inputs: readonly (RTensor | null)[], ctx: KernelContext): RTensor[] {
  const x = required(inputs, 0, ctx);
  return [clip(x, ctx.node.attrFloat('min'), ctx.node.attrFloat('max'))];
}

function clipInputs(inputs: readonly (RTensor | null)[], ctx: KernelContext): RTensor[] {
  const x = required(inputs, 0, ctx);
  const big = isWide(x.dataType);
  return [clip(x, bound(inputs[1], big), bound(inputs[2], big))];
}

/** Opset 1-10: `min`/`max` attributes; since 11: optional `min`/`max` inputs. */
export const Clip: OpKernel[] = [
  { domain: '', opType: 'Clip', since: 1, run: clipAttr },
  { domain: '', opType: 'Clip', since: 11, run: clipInputs },
];
