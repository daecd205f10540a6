import { test } from 'node:test';
import { f32, matchOrt, nnBackends, outs, seeded, type NodeSpec } from './nnHarness.js';

interface Case {
  name: string;
  x: number[];
  w: number[];
  attrs: Record<string, number | number[] | string>;
  bias?: boolean;
  constW?: boolean;
}

const cases: Case[] = [
  { name: '2x2 stride 2 upsampling (block path), batch 2, bias', x: [2, 4, 5, 6], w: [4, 3, 2, 2], attrs: { strides: [2, 2] }, bias: true, constW: true },
  { name: 'stride 2, pads 1, output_padding 1', x: [1, 3, 4, 5], w: [3, 2, 3, 3], attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }, bias: true },
  { name: 'output_shape with an odd total pad', x: [1, 2, 3, 3], w: [2, 2, 3, 3], attrs: { strides: [2, 2], output_shape: [6, 6] } },
  { name: 'output_shape with output_padding', x: [1, 1, 3, 3], w: [1, 2, 3, 3], attrs: { strides: [2, 2], output_shape: [7, 6], output_padding: [1, 1] } },
  { name: 'auto_pad SAME_UPPER', x: [1, 2, 3, 4], w: [2, 2, 3, 3], attrs: { strides: [2, 2], auto_pad: 'SAME_UPPER' } },
  { name: 'auto_pad SAME_LOWER', x: [1, 2, 3, 4], w: [2, 2, 3, 3], attrs: { strides: [2, 2], auto_pad: 'SAME_LOWER' } },
  { name: 'dilations 2, asymmetric pads', x: [1, 2, 4, 4], w: [2, 3, 3, 2], attrs: { dilations: [2, 2], pads: [1, 0, 0, 2] }, constW: true },
  { name: 'group 2', x: [1, 4, 4, 3], w: [4, 3, 3, 3], attrs: { group: 2, strides: [2, 1], pads: [1, 1, 1, 1] }, bias: true },
  { name: 'depthwise (group = channels), stride 2', x: [1, 3, 5, 5], w: [3, 1, 3, 3], attrs: { group: 3, strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }, constW: true },
  { name: '1-D, stride 3, pads', x: [2, 3, 7], w: [3, 2, 4], attrs: { strides: [3], pads: [1, 2] }, bias: true },
  { name: '1-D block path', x: [1, 3, 6], w: [3, 2, 2], attrs: { strides: [2] } },
  { name: '3-D, stride 2, pads, output_padding', x: [1, 2, 3, 3, 2], w: [2, 2, 3, 3, 2], attrs: { strides: [2, 2, 1], pads: [1, 0, 1, 1, 0, 0], output_padding: [1, 0, 0] }, bias: true },
];

for (const c of cases) {
  for (const backend of nnBackends) {
    test(`ConvTranspose ${c.name} on ${backend}: matches onnxruntime`, async () => {
      const r = seeded(c.name);
      const m = c.w[1]! * (typeof c.attrs.group === 'number' ? c.attrs.group : 1);
      const spec: NodeSpec = {
        opType: 'ConvTranspose',
        opset: 13,
        inputs: [f32(r, 'x', c.x), f32(r, 'w', c.w, c.constW), c.bias ? f32(r, 'b', [m], c.constW) : null],
        attrs: c.attrs,
        outputs: outs(1),
      };
      await matchOrt(spec, backend, 1e-5);
    });
  }
}
