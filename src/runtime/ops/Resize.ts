/**
 * Resize (ONNX). Opset 10: `scales` input, modes nearest/linear on asymmetric coordinates (nearest
 * rounds down when upsampling, up when downsampling, as onnxruntime). Opset 11: `roi`, `scales` or
 * `sizes`, coordinate_transformation_mode, nearest_mode, cubic (cubic_coeff_a, exclude_outside),
 * tf_crop_and_resize with extrapolation_value. 13: roi/scales optional. 18: `antialias`, `axes`,
 * keep_aspect_ratio_policy. 19: half_pixel_symmetric. Sizes, scales and coordinates follow onnxruntime's
 * float32 arithmetic; the maths is in util/resample.ts.
 */
import { ModelError } from '../../core/errors.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { normAxes, readInts } from '../util/ints.js';
import { resample, type AxisSpec, type CoordMode, type NearestMode, type ResampleOptions, type ResizeMode } from '../util/resample.js';
import type { RTensor } from '../value.js';

/** Like onnxruntime, every transform is accepted at every opset from 11 (tf_half_pixel_for_nn left the spec at 18, half_pixel_symmetric entered at 19). */
const coordModes: CoordMode[] = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn', 'tf_crop_and_resize'];

function pick<T extends string>(ctx: KernelContext, name: string, dflt: T, allowed: readonly T[]): T {
  const v = ctx.node.attrString(name, dflt);
  if (!(allowed as readonly string[]).includes(v)) throw new ModelError(`${ctx.node.describe()}: ${name} '${v}' is not one of ${allowed.join(', ')} at opset ${ctx.opset}`);
  return v as T;
}

/** Per-axis specs from scales or sizes (over `axes`, all axes by default), as ONNX defines the output size. */
export function axisSpecs(
  x: RTensor,
  scalesIn: number[] | undefined,
  sizesIn: number[] | undefined,
  roiIn: number[] | undefined,
  axesIn: number[] | undefined,
  policy: string,
  crop: boolean,
  ctx: KernelContext,
): AxisSpec[] {
  const rank = x.rank;
  const axes = axesIn ? normAxes(axesIn, rank, ctx) : Array.from({ length: rank }, (_, i) => i);
  const roiStart = new Array<number>(rank).fill(0);
  const roiEnd = new Array<number>(rank).fill(1);
  if (crop && roiIn && roiIn.length > 0) {
    if (roiIn.length !== 2 * axes.length) throw new ModelError(`${ctx.node.describe()}: roi has ${roiIn.length} values, needs ${2 * axes.length}`);
    axes.forEach((a, i) => {
      roiStart[a] = roiIn[i]!;
      roiEnd[a] = roiIn[axes.length + i]!;
    });
  }
  const specs: AxisSpec[] = x.dims.map((d, a) => ({ inLen: d, outLen: d, scale: 1, roiStart: roiStart[a]!, roiEnd: roiEnd[a]! }));
  if (scalesIn && scalesIn.length > 0) {
    if (sizesIn && sizesIn.length > 0) throw new ModelError(`${ctx.node.describe()}: give scales or sizes, not both`);
    if (scalesIn.length !== axes.length) throw new ModelError(`${ctx.node.describe()}: ${scalesIn.length} scales for ${axes.length} axes`);
    axes.forEach((a, i) => {
      const s = scalesIn[i]!;
      if (!(s > 0)) throw new ModelError(`${ctx.node.describe()}: scale ${s} must be positive`);
      const spec = specs[a]!;
      spec.scale = s;
      // As onnxruntime (and ONNX's reference): trunc(fp32(scale * in)); the ROI does not enter the size.
      spec.outLen = Math.floor(Math.fround(spec.inLen * s));
    });
    return specs;
  }
  if (!sizesIn || sizesIn.length === 0) throw new ModelError(`${ctx.node.describe()} needs scales or sizes`);
  if (sizesIn.length !== axes.length) throw new ModelError(`${ctx.node.describe()}: ${sizesIn.length} sizes for ${axes.length} axes`);
  if (policy === 'stretch') {
    axes.forEach((a, i) => {
      const spec = specs[a]!;
      spec.outLen = sizesIn[i]!;
      spec.scale = spec.inLen === 0 ? 1 : Math.fround(spec.outLen / spec.inLen);
    });
  } else {
    // keep_aspect_ratio_policy: one scale for all resized axes, the smallest (not_larger) or largest (not_smaller).
    const ratios = axes.map((a, i) => Math.fround(sizesIn[i]! / x.dims[a]!));
    const s = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
    for (const a of axes) {
      const spec = specs[a]!;
      spec.scale = s;
      spec.outLen = Math.round(Math.fround(s * spec.inLen));
    }
  }
  return specs;
}

function floats(t: RTensor | null): number[] | undefined {
  return t ? t.numbers() : undefined;
}

function resize(inputs: readonly (RTensor | null)[], ctx: KernelContext, version: 11 | 13 | 18 | 19): RTensor[] {
  const x = required(inputs, 0, ctx);
  const mode = pick<ResizeMode>(ctx, 'mode', 'nearest', ['nearest', 'linear', 'cubic']);
  const coord = pick<CoordMode>(ctx, 'coordinate_transformation_mode', 'half_pixel', coordModes);
  const nearest = pick<NearestMode>(ctx, 'nearest_mode', 'round_prefer_floor', ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']);
  const antialias = version >= 18 && ctx.node.attrInt('antialias', 0) !== 0;
  if (antialias && mode === 'nearest') throw new ModelError(`${ctx.node.describe()}: antialias applies to linear and cubic modes only`);
  const policy = version >= 18 ? pick(ctx, 'keep_aspect_ratio_policy', 'stretch', ['stretch', 'not_larger', 'not_smaller']) : 'stretch';
  const axes = version >= 18 ? ctx.node.attrInts('axes') : undefined;
  const sizes = inputs[3] ? readInts(inputs[3]) : undefined;
  const specs = axisSpecs(x, floats(inputs[2] ?? null), sizes, floats(inputs[1] ?? null), axes, policy, coord === 'tf_crop_and_resize', ctx);
  const options: ResampleOptions = {
    mode,
    coord,
    nearest,
    cubicA: ctx.node.attrFloat('cubic_coeff_a', -0.75),
    excludeOutside: ctx.node.attrInt('exclude_outside', 0) !== 0,
    antialias,
    extrapolation: ctx.node.attrFloat('extrapolation_value', 0),
  };
  return [resample(x, specs, options)];
}

/** Resize-10 and Upsample: scales only, asymmetric coordinates, floor/ceil nearest rounding. */
export function resizeLegacy(x: RTensor, scales: number[], ctx: KernelContext): RTensor[] {
  const mode = pick<ResizeMode>(ctx, 'mode', 'nearest', ['nearest', 'linear']);
  const specs = axisSpecs(x, scales, undefined, undefined, undefined, 'stretch', false, ctx);
  return [resample(x, specs, { mode, coord: 'asymmetric', nearest: 'simple', cubicA: -0.75, excludeOutside: false, antialias: false, extrapolation: 0 })];
}

export const Resize: OpKernel[] = [
  { domain: '', opType: 'Resize', since: 10, run: (inputs, ctx) => resizeLegacy(required(inputs, 0, ctx), required(inputs, 1, ctx).numbers(), ctx) },
  { domain: '', opType: 'Resize', since: 11, run: (inputs, ctx) => resize(inputs, ctx, 11) },
  { domain: '', opType: 'Resize', since: 13, run: (inputs, ctx) => resize(inputs, ctx, 13) },
  { domain: '', opType: 'Resize', since: 18, run: (inputs, ctx) => resize(inputs, ctx, 18) },
  { domain: '', opType: 'Resize', since: 19, run: (inputs, ctx) => resize(inputs, ctx, 19) },
];
