/**
 * Separable resampling for Resize and Upsample. Nearest, N-linear and N-cubic interpolation are all
 * products of 1-D filters, so an N-D resize is a sequence of 1-D resizes, one per axis whose size or
 * sampling changes. Each 1-D resize is a few "taps": out = sum_k w_k * gather(x, idx_k, axis), with the
 * indices and weights computed once on the host per axis, following ONNX's reference implementation
 * (onnx/reference/ops/op_resize.py): coordinate transform -> neighbours (edge-clamped) -> coefficients
 * (Keys' cubic convolution, R. Keys 1981, with a = cubic_coeff_a; antialiased filters widened by 1/scale
 * when downsampling).
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import { RTensor } from '../value.js';

/** Resize's interpolation modes. */
export type ResizeMode = 'nearest' | 'linear' | 'cubic';
/** 'simple' is the rounding of Upsample and Resize-10 (floor when upsampling, ceil when downsampling). */
export type NearestMode = 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil' | 'simple';
/** Resize's coordinate_transformation_mode values. */
export type CoordMode = 'half_pixel' | 'half_pixel_symmetric' | 'pytorch_half_pixel' | 'align_corners' | 'asymmetric' | 'tf_half_pixel_for_nn' | 'tf_crop_and_resize';

/** The attributes of one Resize, resolved. */
export interface ResampleOptions {
  mode: ResizeMode;
  coord: CoordMode;
  nearest: NearestMode;
  cubicA: number;
  excludeOutside: boolean;
  antialias: boolean;
  extrapolation: number;
}

/** One axis: input length, output length, the scale, and the ROI [start, end] in normalised coordinates. */
export interface AxisSpec {
  inLen: number;
  outLen: number;
  scale: number;
  roiStart: number;
  roiEnd: number;
}

/** The taps of a 1-D resize: for each tap k, output position i reads idx[k][i] with weight w[k][i]. */
interface Taps {
  idx: Int32Array[];
  w: Float32Array[] | null;
  /** 1 where the sample falls outside the input (tf_crop_and_resize): the output is the extrapolation value. */
  outside: Float32Array | null;
}

const f = Math.fround;

/**
 * Maps an output coordinate to the input coordinate (ONNX Resize, coordinate_transformation_mode) in
 * float32 arithmetic, step by step as onnxruntime does, so that ties in nearest rounding fall the same
 * way. `length_resized` is the integer output length, as in the spec's formulas and onnxruntime (ONNX's
 * Python reference used the fractional in * scale for align_corners and tf_crop_and_resize).
 */
function originalCoord(x: number, a: AxisSpec, coord: CoordMode): number {
  const s = a.scale;
  switch (coord) {
    case 'half_pixel':
      return f(f(f(x + 0.5) / s) - 0.5);
    case 'half_pixel_symmetric': {
      const outWidth = f(s * a.inLen);
      const adjustment = f(a.outLen / outWidth);
      const center = f(a.inLen / 2);
      const offset = f(center * f(1 - adjustment));
      return f(offset + (x + 0.5) / s - 0.5);
    }
    case 'pytorch_half_pixel':
      return a.outLen > 1 ? f(f(f(x + 0.5) / s) - 0.5) : 0;
    case 'align_corners':
      return a.outLen === 1 ? 0 : f(f(x * (a.inLen - 1)) / (a.outLen - 1));
    case 'asymmetric':
      return f(x / s);
    case 'tf_half_pixel_for_nn':
      return f(f(x + 0.5) / s);
    case 'tf_crop_and_resize':
      // onnxruntime's build evaluates this one in double precision and rounds the result to float.
      if (a.outLen > 1) return f(a.roiStart * (a.inLen - 1) + (x * (a.roiEnd - a.roiStart) * (a.inLen - 1)) / (a.outLen - 1));
      return f(0.5 * (a.roiStart + a.roiEnd) * (a.inLen - 1));
  }
}

function nearestIndex(xo: number, mode: NearestMode, downsampling: boolean): number {
  if (Number.isInteger(xo)) return xo;
  const fl = Math.floor(xo);
  const r = xo - fl;
  switch (mode) {
    case 'round_prefer_floor':
      return r <= 0.5 ? fl : fl + 1;
    case 'round_prefer_ceil':
      return r < 0.5 ? fl : fl + 1;
    case 'floor':
      return fl;
    case 'ceil':
      return fl + 1;
    case 'simple':
      return downsampling ? Math.ceil(xo) : Math.trunc(xo);
  }
}

function cubicKernel(x: number, A: number): number {
  const t = Math.abs(x);
  if (t <= 1) return (A + 2) * t * t * t - (A + 3) * t * t + 1;
  if (t < 2) return A * t * t * t - 5 * A * t * t + 8 * A * t - 4 * A;
  return 0;
}

/**
 * Offsets (relative to the left neighbour) and coefficients of the filter at fractional position
 * `ratio` in (0, 1], as onnx/reference's _linear_coeffs / _cubic_coeffs (and their antialias forms).
 */
function filterCoeffs(o: ResampleOptions, ratio: number, scale: number): { start: number; c: number[] } {
  if (o.mode === 'linear') {
    if (!o.antialias || scale >= 1) return { start: 0, c: [1 - ratio, ratio] };
    const start = Math.floor(-1 / scale) + 1;
    const n = 2 - 2 * start;
    const c = Array.from({ length: n }, (_, j) => Math.min(1, Math.max(0, 1 - Math.abs((start + j - ratio) * scale))));
    return { start, c: normalised(c) };
  }
  const A = o.cubicA;
  if (!o.antialias || scale >= 1) {
    return { start: -1, c: [1 + ratio, ratio, 1 - ratio, 2 - ratio].map((t) => cubicKernel(t, A)) };
  }
  const start = Math.floor(-2 / scale) + 1;
  const n = 2 - 2 * start;
  return { start, c: normalised(Array.from({ length: n }, (_, j) => cubicKernel(scale * (start + j - ratio), A))) };
}

function normalised(c: number[]): number[] {
  const s = c.reduce((a, b) => a + b, 0);
  return c.map((v) => v / s);
}

function axisTaps(a: AxisSpec, o: ResampleOptions): Taps | null {
  const { inLen, outLen } = a;
  const outside = o.coord === 'tf_crop_and_resize' ? new Float32Array(outLen) : null;
  let anyOutside = false;
  if (o.mode === 'nearest') {
    // onnxruntime maps an axis of scale 1 one to one, without the coordinate transform (which would
    // shift it under tf_half_pixel_for_nn).
    if (a.scale === 1 && inLen === outLen && o.coord !== 'tf_crop_and_resize') return null;
    const idx = new Int32Array(outLen);
    let identity = inLen === outLen;
    for (let i = 0; i < outLen; i++) {
      const xo = originalCoord(i, a, o.coord);
      if (outside && (xo < 0 || xo > inLen - 1)) {
        outside[i] = 1;
        anyOutside = true;
      }
      idx[i] = Math.min(Math.max(nearestIndex(xo, o.nearest, a.scale < 1), 0), inLen - 1);
      if (idx[i] !== i || outside?.[i]) identity = false;
    }
    return identity ? null : { idx: [idx], w: anyOutside ? [Float32Array.from(outside!, (v) => 1 - v)] : null, outside: anyOutside ? outside : null };
  }
  // Linear and cubic: the left neighbour `fl` and ratio in (0, 1] (an exact hit uses fl = x - 1, ratio 1).
  const rows: { fl: number; start: number; c: number[] }[] = [];
  let k = 0;
  for (let i = 0; i < outLen; i++) {
    const xo = originalCoord(i, a, o.coord);
    let fl = Math.floor(xo);
    let ratio = xo - fl;
    if (ratio === 0) {
      fl -= 1;
      ratio = 1;
    }
    const f = filterCoeffs(o, ratio, a.scale);
    if (o.excludeOutside) {
      f.c = f.c.map((v, j) => (fl + f.start + j < 0 || fl + f.start + j >= inLen ? 0 : v));
      f.c = normalised(f.c);
    }
    if (outside && (xo < 0 || xo > inLen - 1)) {
      outside[i] = 1;
      anyOutside = true;
      f.c = f.c.map(() => 0);
    }
    rows.push({ fl, start: f.start, c: f.c });
    k = Math.max(k, f.c.length);
  }
  const idx = Array.from({ length: k }, () => new Int32Array(outLen));
  const w = Array.from({ length: k }, () => new Float32Array(outLen));
  let identity = inLen === outLen && !anyOutside;
  rows.forEach((r, i) => {
    let self = 0;
    r.c.forEach((c, j) => {
      const at = Math.min(Math.max(r.fl + r.start + j, 0), inLen - 1);
      idx[j]![i] = at;
      w[j]![i] = c;
      if (at === i) self += c;
      else if (c !== 0) identity = false;
    });
    if (Math.abs(self - 1) > 1e-7) identity = false;
  });
  return identity ? null : { idx, w, outside: anyOutside ? outside : null };
}

/**
 * Resamples `x` to `axes[i].outLen` along every axis i. Integer data stays exact under nearest and is
 * truncated after linear/cubic (numpy's astype, as the ONNX reference does).
 */
export function resample(x: RTensor, axes: AxisSpec[], o: ResampleOptions): RTensor {
  const rank = x.rank;
  if (axes.length !== rank) throw new ModelError(`resize needs one scale per axis (${rank}), got ${axes.length}`);
  const outDims = axes.map((a) => a.outLen);
  for (const a of axes) if (a.inLen === 0 && a.outLen > 0) throw new ModelError(`cannot resize an empty axis to ${a.outLen}`);
  const taps = axes.map((a) => (a.outLen === 0 ? null : axisTaps(a, o)));
  const xt = x.tf;
  const t = tf.tidy(() => {
    if (outDims.includes(0)) return tf.zeros(outDims, xt.dtype);
    const weighted = o.mode !== 'nearest' || taps.some((tp) => tp?.w);
    let y = weighted && xt.dtype !== 'float32' ? tf.cast(xt, 'float32') : xt;
    taps.forEach((tp, axis) => {
      if (!tp) return;
      const shape = outDims.map((d, i) => (i === axis ? d : 1));
      let acc: tf.Tensor | null = null;
      tp.idx.forEach((idx, k) => {
        let g = tf.gather(y, tf.tensor1d(idx, 'int32'), axis);
        if (tp.w) g = tf.mul(g, tf.tensor(tp.w[k]!, shape));
        acc = acc ? tf.add(acc, g) : g;
      });
      if (tp.outside) acc = tf.add(acc!, tf.mul(tf.tensor(tp.outside, shape), o.extrapolation));
      y = acc!;
    });
    if (y === xt) return tf.clone(y);
    if (y.dtype !== xt.dtype) return tf.cast(y, xt.dtype);
    return y;
  });
  return RTensor.fromTf(t, x.dataType);
}
