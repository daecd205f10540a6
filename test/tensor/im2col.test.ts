import { test } from 'node:test';
import assert from 'node:assert/strict';
import { im2colRows, patchSize, type PatchGeometry } from '../../src/tensor/im2col.js';

/** The direct convolution (no bias): y[n, m, oy, ox] = sum over the group's (c, dy, dx) of w * x. */
function directConv(x: Float32Array, w: Float32Array, g: PatchGeometry, batch: number, M: number): Float32Array {
  const { channels: C, height: H, width: W, group: G } = g;
  const [kh, kw] = g.kernel;
  const [ho, wo] = g.out;
  const cg = C / G;
  const y = new Float32Array(batch * M * ho * wo);
  for (let n = 0; n < batch; n++)
    for (let m = 0; m < M; m++) {
      const gi = Math.floor(m / (M / G));
      for (let oy = 0; oy < ho; oy++)
        for (let ox = 0; ox < wo; ox++) {
          let s = 0;
          for (let c = 0; c < cg; c++)
            for (let dy = 0; dy < kh; dy++)
              for (let dx = 0; dx < kw; dx++) {
                const iy = oy * g.strides[0] - g.pads[0] + dy * g.dilations[0];
                const ix = ox * g.strides[1] - g.pads[1] + dx * g.dilations[1];
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                s += w[((m * cg + c) * kh + dy) * kw + dx]! * x[((n * C + gi * cg + c) * H + iy) * W + ix]!;
              }
          y[((n * M + m) * ho + oy) * wo + ox] = s;
        }
    }
  return y;
}

test('im2col: patches times the weight matrix are the convolution (groups, strides, dilations, uneven pads, NCHW and NHWC)', () => {
  const g: PatchGeometry = { channels: 4, group: 2, height: 7, width: 6, kernel: [3, 2], strides: [2, 1], dilations: [1, 2], pads: [1, 0, 1, 1], out: [0, 0] };
  g.out = [Math.floor((7 + 1 + 1 - 3) / 2) + 1, Math.floor((6 + 0 + 1 - 3) / 1) + 1];
  const batch = 2;
  const M = 6;
  const K = patchSize(g);
  assert.equal(K, 2 * 3 * 2);
  const x = Float32Array.from({ length: batch * 4 * 7 * 6 }, (_, i) => Math.sin(i * 0.37));
  const w = Float32Array.from({ length: M * K }, (_, i) => Math.cos(i * 0.11));
  const want = directConv(x, w, g, batch, M);
  // The same input channels-last.
  const xl = new Float32Array(x.length);
  for (let n = 0; n < batch; n++) for (let c = 0; c < 4; c++) for (let h = 0; h < 7; h++) for (let v = 0; v < 6; v++) xl[((n * 7 + h) * 6 + v) * 4 + c] = x[((n * 4 + c) * 7 + h) * 6 + v]!;
  const pixels = g.out[0] * g.out[1];
  for (const [data, last] of [[x, false], [xl, true]] as const) {
    let worst = 0;
    for (let n = 0; n < batch; n++)
      for (let gi = 0; gi < 2; gi++) {
        const p = new Float32Array(pixels * K);
        // two calls over halves of the pixels: rows continue where the first stopped
        const half = Math.floor(pixels / 2);
        im2colRows(data, last, g, gi, n, 0, half, p.subarray(0, half * K));
        im2colRows(data, last, g, gi, n, half, pixels, p.subarray(half * K));
        for (let m = gi * 3; m < gi * 3 + 3; m++)
          for (let q = 0; q < pixels; q++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += p[q * K + k]! * w[m * K + k]!;
            worst = Math.max(worst, Math.abs(s - want[(n * M + m) * pixels + q]!));
          }
      }
    assert.ok(worst < 1e-5, `channelsLast ${last}: max difference ${worst}`);
  }
});
