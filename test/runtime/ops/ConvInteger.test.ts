import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { compareWithOrt, input, naiveIntConv, randInts, rng, runOurs, singleNodeModel, type ConvRef, type NodeSpec } from './quantHarness.js';

const U8 = DataType.UINT8;
const I8 = DataType.INT8;

interface Case {
  name: string;
  g: ConvRef;
  type: number;
  oneD?: boolean;
  autoPad?: string;
  perChannelW?: boolean;
  extreme?: boolean;
  ortRejects?: boolean;
}

const base = { n: 1, strides: [1, 1] as [number, number], dilations: [1, 1] as [number, number], pads: [0, 0, 0, 0] as [number, number, number, number], group: 1 };
const cases: Case[] = [
  { name: '3x3, pads 1', type: U8, g: { ...base, c: 3, h: 7, w: 6, m: 4, kh: 3, kw: 3, pads: [1, 1, 1, 1] } },
  { name: 'asymmetric pads, stride 2 and dilation 2 together', type: U8, g: { ...base, n: 2, c: 2, h: 11, w: 9, m: 3, kh: 3, kw: 2, strides: [2, 2], dilations: [2, 2], pads: [0, 1, 2, 1] } },
  { name: 'group 2', type: U8, g: { ...base, c: 4, h: 6, w: 6, m: 6, kh: 3, kw: 3, group: 2, pads: [1, 0, 1, 0] } },
  { name: 'depthwise, channel multiplier 2, stride 2', type: U8, g: { ...base, c: 3, h: 8, w: 8, m: 6, kh: 3, kw: 3, group: 3, strides: [2, 2], pads: [1, 1, 1, 1] } },
  { name: '1-D', type: U8, oneD: true, g: { ...base, c: 3, h: 1, w: 20, m: 2, kh: 1, kw: 5, strides: [1, 3], pads: [0, 2, 0, 1] } },
  { name: 'auto_pad SAME_UPPER, stride 2', type: U8, autoPad: 'SAME_UPPER', g: { ...base, c: 2, h: 7, w: 8, m: 2, kh: 4, kw: 3, strides: [2, 2], pads: [1, 0, 2, 1] } },
  { name: 'auto_pad SAME_LOWER, stride 2', type: U8, autoPad: 'SAME_LOWER', g: { ...base, c: 2, h: 7, w: 8, m: 2, kh: 4, kw: 3, strides: [2, 2], pads: [2, 1, 1, 0] } },
  { name: '64 channels x 3x3 = 576 terms, extreme values (x split into base-16 digits)', type: U8, extreme: true, g: { ...base, c: 64, h: 5, w: 5, m: 3, kh: 3, kw: 3, pads: [1, 1, 1, 1] } },
  { name: '1 channel x 17x17 kernel = 289 terms, extreme values (kernel-row chunks)', type: U8, extreme: true, g: { ...base, c: 1, h: 20, w: 19, m: 2, kh: 17, kw: 17 } },
  { name: '3 channels x 17x17 = 867 terms, extreme values (x split into base-16 digits)', type: U8, extreme: true, g: { ...base, c: 3, h: 18, w: 18, m: 2, kh: 17, kw: 17 } },
  { name: '30 channels x 3x3 = 270 terms, extreme values (two channel chunks)', type: U8, extreme: true, g: { ...base, c: 30, h: 4, w: 4, m: 2, kh: 3, kw: 3 } },
  { name: 'int8 input and weight', type: I8, g: { ...base, c: 3, h: 5, w: 5, m: 2, kh: 3, kw: 3 } },
  { name: 'per-output-channel weight zero point', type: U8, perChannelW: true, ortRejects: true, g: { ...base, c: 3, h: 5, w: 5, m: 4, kh: 2, kw: 2 } },
];

for (const c of cases) {
  test(`ConvInteger ${c.name}: exact, equal to onnxruntime`, async (t) => {
    const r = rng(c.g.c * 100 + c.g.kh * 10 + c.g.m);
    const [lo, hi] = c.type === U8 ? [0, 255] : [-128, 127];
    const g = c.g;
    const cg = g.c / g.group;
    let x = randInts(r, g.n * g.c * g.h * g.w, lo, hi);
    let w = randInts(r, g.m * cg * g.kh * g.kw, lo, hi);
    let xzp = randInts(r, 1, lo, hi)[0]!;
    let wzp = randInts(r, c.perChannelW ? g.m : 1, lo, hi);
    if (c.extreme) {
      x = x.map(() => 255);
      w = w.map(() => 255);
      xzp = 0;
      wzp = [0];
    }
    const xDims = c.oneD ? [g.n, g.c, g.w] : [g.n, g.c, g.h, g.w];
    const wDims = c.oneD ? [g.m, cg, g.kw] : [g.m, cg, g.kh, g.kw];
    const attrs: Record<string, number | number[] | string> = c.oneD
      ? { strides: [g.strides[1]], dilations: [g.dilations[1]], pads: [g.pads[1], g.pads[3]], group: g.group }
      : { strides: g.strides, dilations: g.dilations, group: g.group };
    if (!c.oneD) {
      if (c.autoPad) attrs.auto_pad = c.autoPad;
      else attrs.pads = [g.pads[0], g.pads[1], g.pads[2], g.pads[3]];
    }
    const spec: NodeSpec = {
      opType: 'ConvInteger',
      opset: 10,
      inputs: [input('x', c.type, xDims, x), input('w', c.type, wDims, w, true), input('xzp', c.type, [], [xzp], true), input('wzp', c.type, c.perChannelW ? [g.m] : [], wzp, true)],
      attrs,
      outputs: [{ name: 'y', dataType: DataType.INT32 }],
    };
    const res = await compareWithOrt(spec, { allowOrtReject: c.ortRejects });
    if (c.ortRejects) {
      assert.ok(res.ortError, 'onnxruntime now accepts this configuration: drop ortRejects');
      t.diagnostic(`onnxruntime refuses: ${res.ortError.split('\n')[0]}`);
    }
    const ours = await runOurs(singleNodeModel(spec), spec);
    const ref = naiveIntConv(x, w, g, xzp, wzp);
    assert.deepEqual(ours.y!.values, ref.y);
    assert.deepEqual(ours.y!.dims, c.oneD ? [ref.dims[0], ref.dims[1], ref.dims[3]] : ref.dims);
  });
}
