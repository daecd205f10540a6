import { test } from 'node:test';
import { f32, matchOrt, nnBackends, outs, seeded, type NodeSpec } from './nnHarness.js';

interface Case {
  name: string;
  x: number[];
  w: number[];
  attrs: Record<string, number | number[] | string>;
  bias?: boolean;
  /** W (and B) as initializers: the session-constant path with the cached filter layout. */
  constW?: boolean;
}

const cases: Case[] = [
  { name: '2-D, asymmetric pads, stride 2, bias', x: [2, 3, 9, 8], w: [4, 3, 3, 3], attrs: { pads: [1, 0, 2, 1], strides: [2, 2] }, bias: true, constW: true },
  { name: '2-D, stride 2 and dilation 2 together', x: [1, 2, 11, 10], w: [3, 2, 3, 2], attrs: { strides: [2, 2], dilations: [2, 2], pads: [0, 1, 2, 1] } },
  { name: '2-D, dilation 2, stride 1', x: [1, 3, 7, 8], w: [2, 3, 3, 3], attrs: { dilations: [2, 1], pads: [2, 1, 2, 1] }, constW: true },
  { name: '2-D, SAME_UPPER, stride 1, even kernel', x: [1, 3, 7, 8], w: [2, 3, 2, 4], attrs: { auto_pad: 'SAME_UPPER' } },
  { name: '2-D, SAME_LOWER, stride 2, even kernel', x: [1, 2, 7, 8], w: [2, 2, 4, 2], attrs: { strides: [2, 2], auto_pad: 'SAME_LOWER' } },
  { name: '2-D, VALID', x: [1, 2, 6, 5], w: [3, 2, 2, 3], attrs: { auto_pad: 'VALID' }, bias: true },
  { name: 'depthwise 3x3, stride 2, pads 1', x: [2, 8, 10, 9], w: [8, 1, 3, 3], attrs: { group: 8, strides: [2, 2], pads: [1, 1, 1, 1] }, bias: true, constW: true },
  { name: 'depthwise 5x5 (ppocr), stride [2, 1], pads 2', x: [1, 6, 12, 20], w: [6, 1, 5, 5], attrs: { group: 6, strides: [2, 1], pads: [2, 2, 2, 2] }, bias: true, constW: true },
  { name: 'depthwise, channel multiplier 2, dilation 2', x: [1, 3, 9, 9], w: [6, 1, 3, 3], attrs: { group: 3, dilations: [2, 2], pads: [2, 2, 2, 2] } },
  { name: 'grouped (2 groups of 3 channels)', x: [1, 6, 7, 7], w: [4, 3, 3, 3], attrs: { group: 2, pads: [1, 1, 0, 0], strides: [1, 2] }, bias: true },
  { name: 'pointwise 1x1, batch 2, bias (matmul in NCHW)', x: [2, 16, 5, 7], w: [24, 16, 1, 1], attrs: {}, bias: true, constW: true },
  { name: '1-D, stride 3, dilation 2, pads', x: [2, 3, 30], w: [4, 3, 5], attrs: { strides: [3], dilations: [2], pads: [2, 1] }, bias: true },
  { name: '1-D depthwise', x: [1, 4, 20], w: [4, 1, 3], attrs: { group: 4, pads: [1, 1] } },
  { name: '1-D pointwise', x: [1, 5, 9], w: [3, 5, 1], attrs: {} },
  { name: '3-D, stride 2 and dilation, pads', x: [1, 2, 7, 6, 7], w: [3, 2, 3, 2, 3], attrs: { strides: [2, 1, 2], dilations: [1, 2, 1], pads: [1, 0, 1, 0, 1, 1] }, bias: true },
  { name: '3-D grouped', x: [1, 4, 5, 5, 5], w: [4, 2, 3, 3, 3], attrs: { group: 2, pads: [1, 1, 1, 1, 1, 1] } },
];

for (const c of cases) {
  for (const backend of nnBackends) {
    test(`Conv ${c.name} on ${backend}: matches onnxruntime`, async () => {
      const r = seeded(c.name);
      const spec: NodeSpec = {
        opType: 'Conv',
        opset: 13,
        inputs: [f32(r, 'x', c.x), f32(r, 'w', c.w, c.constW), c.bias ? f32(r, 'b', [c.w[0]!], c.constW) : null],
        attrs: c.attrs,
        outputs: outs(1),
      };
      await matchOrt(spec, backend, 1e-5);
    });
  }
}
