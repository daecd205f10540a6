/**
 * Slice (ONNX): per-axis ranges start:end:step. Opset 1 reads `starts`/`ends`/`axes` attributes; from
 * opset 10 they are inputs, with `steps` (negative steps walk backwards). Starts and ends are clamped as
 * numpy does, so INT64_MAX / INT64_MIN mean "to the end" / "to before the first".
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { allocHost, computeOnHost, gatherFlat, mapIndex, stridesOf } from '../util/host.js';
import { clamp, normAxes, readInts } from '../util/ints.js';
import { RTensor } from '../value.js';

/** One axis of a slice after normalisation: the first index, the step and how many elements. */
export interface AxisRange {
  start: number;
  step: number;
  count: number;
}

/** Normalises start/end/step against a dim as ONNX specifies (numpy's rules). */
export function sliceRange(start: number, end: number, step: number, dim: number): AxisRange {
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
  } else {
    s = clamp(s, 0, dim - 1);
    e = clamp(e, -1, dim - 1);
  }
  const count = Math.max(0, Math.ceil((e - s) / step));
  return { start: s, step, count };
}

/** Applies per-axis ranges (one per axis of x) on the host or on tfjs. */
export function applyRanges(x: RTensor, ranges: AxisRange[]): RTensor {
  const outDims = ranges.map((r) => r.count);
  if (outDims.includes(0)) return RTensor.fromHost(x.dataType, outDims, allocHost(x.dataType, 0));
  if (computeOnHost(x)) {
    const strides = stridesOf(x.dims);
    return gatherFlat(x, outDims, mapIndex(outDims, (a, c) => (ranges[a]!.start + c * ranges[a]!.step) * strides[a]!), true);
  }
  const xt = x.tf;
  const t = tf.tidy(() => {
    // Unit steps are one tf.slice; any other step is a tf.gather of explicit indices along its axis.
    const begin = ranges.map((r) => (r.step === 1 ? r.start : 0));
    const size = ranges.map((r, a) => (r.step === 1 ? r.count : x.dims[a]!));
    let y = tf.slice(xt, begin, size);
    ranges.forEach((r, a) => {
      if (r.step === 1) return;
      const idx = Int32Array.from({ length: r.count }, (_, c) => r.start + c * r.step);
      y = tf.gather(y, tf.tensor1d(idx, 'int32'), a);
    });
    return y;
  });
  return RTensor.fromTf(t, x.dataType);
}

function slice(x: RTensor, starts: number[], ends: number[], axesIn: number[] | undefined, stepsIn: number[] | undefined, ctx: KernelContext): RTensor[] {
  const k = starts.length;
  const axes = normAxes(axesIn ?? Array.from({ length: k }, (_, i) => i), x.rank, ctx);
  const steps = stepsIn ?? new Array<number>(k).fill(1);
  if (ends.length !== k || axes.length !== k || steps.length !== k) {
    throw new ModelError(`${ctx.node.describe()}: starts, ends, axes and steps must have the same length (${k}, ${ends.length}, ${axes.length}, ${steps.length})`);
  }
  const ranges: AxisRange[] = x.dims.map((d) => ({ start: 0, step: 1, count: d }));
  axes.forEach((a, i) => {
    if (steps[i] === 0) throw new ModelError(`${ctx.node.describe()}: step 0 on axis ${a}`);
    ranges[a] = sliceRange(starts[i]!, ends[i]!, steps[i]!, x.dims[a]!);
  });
  return [applyRanges(x, ranges)];
}

export const Slice: OpKernel[] = [
  {
    domain: '',
    opType: 'Slice',
    since: 1,
    run: (inputs, ctx) => {
      const starts = ctx.node.attrInts('starts');
      const ends = ctx.node.attrInts('ends');
      if (!starts || !ends) throw new ModelError(`${ctx.node.describe()} (opset ${ctx.opset}) needs the 'starts' and 'ends' attributes`);
      return slice(required(inputs, 0, ctx), starts, ends, ctx.node.attrInts('axes'), undefined, ctx);
    },
  },
  {
    domain: '',
    opType: 'Slice',
    since: 10,
    run: (inputs, ctx) =>
      slice(
        required(inputs, 0, ctx),
        readInts(required(inputs, 1, ctx)),
        readInts(required(inputs, 2, ctx)),
        inputs[3] ? readInts(inputs[3]) : undefined,
        inputs[4] ? readInts(inputs[4]) : undefined,
        ctx,
      ),
  },
];
