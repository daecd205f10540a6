/**
 * Patches of a convolution's input (im2col): the rows a convolution multiplies its weight matrix with.
 * A Conv with weight W [M, C/G, kh, kw] computes, for every output pixel and group g, the product of the
 * group's [M/G, (C/G) kh kw] weight matrix with the patch of its input channels under the kernel, so the
 * data-aware passes treat a Conv as that matrix and the patches as its input rows (the GPTQ paper's
 * ResNet experiments, Frantar et al. 2022, section 5). Pure host code on float32 arrays.
 *
 * Patch element order matches the weight's: (c, dy, dx) -> (c * kh + dy) * kw + dx, c counted within the
 * group, so that the weight [M, C/G, kh, kw] read row-major is the matrix [M, K] of the same columns.
 * 1-D convolutions are 2-D ones of height 1.
 */

/** A 2-D convolution's patch geometry (1-D: height 1, kernel height 1). */
export interface PatchGeometry {
  /** Input channels, all groups together. */
  channels: number;
  group: number;
  /** Input height and width. */
  height: number;
  width: number;
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** [top, left, bottom, right]. */
  pads: [number, number, number, number];
  /** Output height and width. */
  out: [number, number];
}

/** Inputs per patch of one group: (C / G) kh kw. */
export function patchSize(g: PatchGeometry): number {
  return (g.channels / g.group) * g.kernel[0] * g.kernel[1];
}

/**
 * Writes the patches of group `group` for output pixels [p0, p1) of sample `n` into `out` (row after row,
 * `patchSize` values each, zero where the kernel reaches into the padding). `x` holds the input
 * [N, C, H, W] (`channelsLast` false) or [N, H, W, C] (true).
 */
export function im2colRows(x: Float32Array, channelsLast: boolean, g: PatchGeometry, group: number, n: number, p0: number, p1: number, out: Float32Array): void {
  const { channels: C, height: H, width: W } = g;
  const [kh, kw] = g.kernel;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const [pt, pl] = g.pads;
  const wo = g.out[1];
  const cg = C / g.group;
  const c0 = group * cg;
  const K = cg * kh * kw;
  // Strides of (channel, row, column) in x for sample n.
  const sc = channelsLast ? 1 : H * W;
  const sy = channelsLast ? W * C : W;
  const sx = channelsLast ? C : 1;
  const base = n * C * H * W;
  let o = 0;
  for (let p = p0; p < p1; p++) {
    const oy = Math.floor(p / wo);
    const ox = p - oy * wo;
    for (let c = 0; c < cg; c++) {
      const cb = base + (c0 + c) * sc;
      for (let dy = 0; dy < kh; dy++) {
        const y = oy * sh - pt + dy * dh;
        if (y < 0 || y >= H) {
          out.fill(0, o, o + kw);
          o += kw;
          continue;
        }
        const rb = cb + y * sy;
        for (let dx = 0; dx < kw; dx++) {
          const xx = ox * sw - pl + dx * dw;
          out[o++] = xx < 0 || xx >= W ? 0 : x[rb + xx * sx]!;
        }
      }
    }
  }
  if (o !== (p1 - p0) * K) throw new RangeError(`im2col wrote ${o} values for ${p1 - p0} patches of ${K}`);
}
