import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { compareWithOrt, input, naiveIntConv, randFloats, randInts, rng, runOurs, singleNodeModel, type ConvRef, type NodeSpec } from './quantHarness.js';

const U8 = DataType.UINT8;
const I8 = DataType.INT8;
const range = (t: number): [number, number] => (t === U8 ? [0, 255] : [-128, 127]);

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
}

interface Case {
  name: string;
  g: ConvRef;
  xType: number;
  wType: number;
  perChannel?: boolean;
  symmetricW?: boolean;
  bias?: boolean;
  extreme?: boolean;
}

const base = { n: 1, strides: [1, 1] as [number, number], dilations: [1, 1] as [number, number], pads: [0, 0, 0, 0] as [number, number, number, number], group: 1 };
const cases: Case[] = [
  { name: 'uint8, per-tensor, bias, pads 1', xType: U8, wType: U8, bias: true, g: { ...base, c: 3, h: 6, w: 6, m: 4, kh: 3, kw: 3, pads: [1, 1, 1, 1] } },
  { name: 'uint8 x int8 per-channel symmetric weights (onnxruntime symmetric path)', xType: U8, wType: I8, perChannel: true, symmetricW: true, bias: true, g: { ...base, n: 2, c: 8, h: 5, w: 7, m: 5, kh: 3, kw: 3, strides: [2, 1], pads: [1, 1, 1, 1] } },
  { name: 'int8 depthwise, per-channel', xType: I8, wType: I8, perChannel: true, g: { ...base, c: 4, h: 7, w: 7, m: 4, kh: 3, kw: 3, group: 4, pads: [1, 1, 1, 1] } },
  { name: 'uint8 group 2 with dilation', xType: U8, wType: U8, g: { ...base, c: 4, h: 9, w: 9, m: 4, kh: 3, kw: 3, group: 2, dilations: [2, 2] } },
  { name: '32 channels x 3x3 = 288 terms, extreme values', xType: U8, wType: U8, extreme: true, g: { ...base, c: 32, h: 4, w: 4, m: 2, kh: 3, kw: 3, pads: [1, 1, 1, 1] } },
];

for (const c of cases) {
  test(`QLinearConv ${c.name}: equal to onnxruntime and the spec`, async () => {
    const r = rng(c.g.c * 31 + c.g.m);
    const g = c.g;
    const cg = g.c / g.group;
    const [xlo, xhi] = range(c.xType);
    const [wlo, whi] = range(c.wType);
    const [ylo, yhi] = range(c.xType);
    let x = randInts(r, g.n * g.c * g.h * g.w, xlo, xhi);
    let w = randInts(r, g.m * cg * g.kh * g.kw, wlo, whi);
    let xzp = randInts(r, 1, xlo, xhi)[0]!;
    let wzp = c.symmetricW ? new Array<number>(c.perChannel ? g.m : 1).fill(0) : randInts(r, c.perChannel ? g.m : 1, wlo, whi);
    const yzp = randInts(r, 1, ylo, yhi)[0]!;
    const xs = Math.fround(0.01 + r() * 0.01);
    const ws = Array.from(randFloats(r, c.perChannel ? g.m : 1, 0.001, 0.01));
    const terms = cg * g.kh * g.kw;
    let ys = Math.fround(0.02 * Math.sqrt(terms));
    const bias = c.bias ? randInts(r, g.m, -5000, 5000) : null;
    if (c.extreme) {
      x = x.map(() => xhi);
      w = w.map(() => whi);
      xzp = 0;
      wzp = [0];
      ys = Math.fround((xs * ws[0]! * terms * 255 * 255) / 120.7);
    }
    const spec: NodeSpec = {
      opType: 'QLinearConv',
      opset: 10,
      inputs: [
        input('x', c.xType, [g.n, g.c, g.h, g.w], x),
        input('x_scale', DataType.FLOAT, [], [xs], true),
        input('x_zp', c.xType, [], [xzp], true),
        input('w', c.wType, [g.m, cg, g.kh, g.kw], w, true),
        input('w_scale', DataType.FLOAT, c.perChannel ? [g.m] : [], ws, true),
        input('w_zp', c.wType, c.perChannel ? [g.m] : [], wzp, true),
        input('y_scale', DataType.FLOAT, [], [ys], true),
        input('y_zp', c.xType, [], [yzp], true),
      ],
      attrs: { strides: g.strides, dilations: g.dilations, pads: [g.pads[0], g.pads[1], g.pads[2], g.pads[3]], group: g.group },
      outputs: [{ name: 'y', dataType: c.xType }],
    };
    if (bias) spec.inputs.push(input('B', DataType.INT32, [g.m], bias, true));
    await compareWithOrt(spec);
    const ours = await runOurs(singleNodeModel(spec), spec);
    const acc = naiveIntConv(x, w, g, xzp, wzp);
    const plane = acc.dims[2]! * acc.dims[3]!;
    const expected = acc.y.map((v, i) => {
      const o = Math.floor(i / plane) % g.m;
      const mult = Math.fround(Math.fround(xs * Math.fround(ws.length > 1 ? ws[o]! : ws[0]!)) / ys);
      const q = roundHalfEven(Math.fround(Math.fround(v + (bias ? bias[o]! : 0)) * mult)) + yzp;
      return Math.min(yhi, Math.max(ylo, q));
    });
    assert.deepEqual(ours.y!.values, expected);
  });
}
