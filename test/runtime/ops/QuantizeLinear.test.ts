import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { float16BitsToFloat32 } from '../../../src/core/float16.js';
import { compareWithOrt, input, randFloats, randInts, rng, runOurs, singleNodeModel, type NodeSpec } from './quantHarness.js';

const ranges: Record<number, [number, number]> = {
  [DataType.UINT8]: [0, 255],
  [DataType.INT8]: [-128, 127],
  [DataType.UINT16]: [0, 65535],
  [DataType.INT16]: [-32768, 32767],
  [DataType.UINT4]: [0, 15],
  [DataType.INT4]: [-8, 7],
};

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
}

/** Plain-JS QuantizeLinear by the spec: index of the scale for each element, then round and saturate. */
function reference(x: Float32Array, dims: number[], scale: ArrayLike<number>, zp: ArrayLike<number> | null, type: number, axis: number, block: number): number[] {
  const [lo, hi] = ranges[type]!;
  const a = axis < 0 ? axis + dims.length : axis;
  const inner = dims.slice(a + 1).reduce((p, d) => p * d, 1);
  const dAxis = dims[a] ?? 1;
  const blocks = block ? Math.ceil(dAxis / block) : dAxis;
  return Array.from(x, (v, i) => {
    let si = 0;
    if (scale.length > 1) {
      const outer = Math.floor(i / (inner * dAxis));
      const ai = Math.floor(i / inner) % dAxis;
      const ii = i % inner;
      si = block ? (outer * blocks + Math.floor(ai / block)) * inner + ii : ai;
    }
    const quotient = Math.fround(v / Math.fround(scale[si]!));
    const q = roundHalfEven(quotient) + (zp ? zp[si]! : 0);
    return Number.isNaN(q) ? lo : Math.min(hi, Math.max(lo, q));
  });
}

interface Case {
  name: string;
  opset: number;
  domain?: string;
  dims: number[];
  type: number;
  axis?: number;
  block?: number;
  scaleDims: number[];
  withZp: boolean;
  outputDtypeAttr?: boolean;
  xType?: number;
}

const cases: Case[] = [
  { name: 'opset 10 per-tensor uint8', opset: 10, dims: [4, 5], type: DataType.UINT8, scaleDims: [], withZp: true },
  { name: 'opset 10 per-tensor int8, no zero point -> uint8', opset: 10, dims: [3, 7], type: DataType.UINT8, scaleDims: [], withZp: false },
  { name: 'opset 13 per-axis int8 axis 1', opset: 13, dims: [2, 3, 4], type: DataType.INT8, axis: 1, scaleDims: [3], withZp: true },
  { name: 'opset 13 per-axis uint8 axis -1', opset: 13, dims: [2, 3, 4], type: DataType.UINT8, axis: -1, scaleDims: [4], withZp: true },
  { name: 'opset 19 fp16 input per-tensor uint8', opset: 19, dims: [5, 6], type: DataType.UINT8, scaleDims: [], withZp: true, xType: DataType.FLOAT16 },
  { name: 'opset 21 int16 per-axis', opset: 21, dims: [3, 8], type: DataType.INT16, axis: 0, scaleDims: [3], withZp: true },
  { name: 'opset 21 uint16 per-tensor', opset: 21, dims: [3, 8], type: DataType.UINT16, scaleDims: [], withZp: true },
  { name: 'opset 21 int4 per-tensor', opset: 21, dims: [4, 9], type: DataType.INT4, scaleDims: [], withZp: true },
  { name: 'opset 21 uint4 per-axis', opset: 21, dims: [4, 9], type: DataType.UINT4, axis: 1, scaleDims: [9], withZp: true },
  { name: 'opset 21 output_dtype int8 without zero point', opset: 21, dims: [4, 6], type: DataType.INT8, scaleDims: [], withZp: false, outputDtypeAttr: true },
  { name: 'opset 21 blocked int4 block 4, K 10', opset: 21, dims: [6, 10], type: DataType.INT4, axis: 1, block: 4, scaleDims: [6, 3], withZp: true },
  { name: 'opset 21 blocked int8 block 32, K 70 on axis 0', opset: 21, dims: [70, 3], type: DataType.INT8, axis: 0, block: 32, scaleDims: [3, 3], withZp: true },
  { name: 'opset 21 blocked uint4 block 16 output_dtype, no zero point', opset: 21, dims: [2, 40], type: DataType.UINT4, axis: 1, block: 16, scaleDims: [2, 3], withZp: false, outputDtypeAttr: true },
  { name: 'opset 23 blocked int8 block 4', opset: 23, dims: [3, 9], type: DataType.INT8, axis: 1, block: 4, scaleDims: [3, 3], withZp: true },
  { name: 'opset 25 per-axis uint8', opset: 25, dims: [3, 9], type: DataType.UINT8, axis: 0, scaleDims: [3], withZp: true },
  { name: 'com.microsoft int16 per-axis', opset: 17, domain: 'com.microsoft', dims: [3, 5], type: DataType.INT16, axis: 1, scaleDims: [5], withZp: true },
  { name: 'com.microsoft uint16 per-tensor', opset: 17, domain: 'com.microsoft', dims: [3, 5], type: DataType.UINT16, scaleDims: [], withZp: true },
  { name: 'com.microsoft int4 per-tensor', opset: 21, domain: 'com.microsoft', dims: [3, 5], type: DataType.INT4, scaleDims: [], withZp: true },
];

for (const c of cases) {
  test(`QuantizeLinear ${c.name}: matches onnxruntime and the spec`, async () => {
    const r = rng(1234 + c.dims.reduce((a, b) => a * b, 1));
    const n = c.dims.reduce((a, b) => a * b, 1);
    const [lo, hi] = ranges[c.type]!;
    const scaleCount = c.scaleDims.reduce((a, b) => a * b, 1);
    // Scales sized so the data spans past the type's range: saturation is exercised at both ends.
    const scale = randFloats(r, scaleCount, 0.5, 1.5).map((s) => (s * 6) / (hi - lo));
    const zp = c.withZp ? randInts(r, scaleCount, lo + Math.floor((hi - lo) / 4), hi - Math.floor((hi - lo) / 4)) : null;
    const x = randFloats(r, n, -4, 4);
    // Exact ties (x / scale = k + 0.5) with a power-of-two scale check rounding half to even.
    if (c.scaleDims.length === 0) {
      scale[0] = 0.25;
      for (let i = 0; i < Math.min(n, 8); i++) x[i] = (i - 4 + 0.5) * 0.25;
    }
    // Far beyond the type's range but within int32 after dividing (beyond that onnxruntime's C++ overflows).
    x[n - 1] = 5e4;
    x[n - 2] = -5e4;
    const xType = c.xType ?? DataType.FLOAT;
    const xv = xType === DataType.FLOAT16 ? x.map((v) => Math.fround(v)) : x;
    const attrs: Record<string, number> = {};
    if (c.axis !== undefined) attrs.axis = c.axis;
    if (c.block) attrs.block_size = c.block;
    if (c.outputDtypeAttr) attrs.output_dtype = c.type;
    const scaleType = xType;
    const spec: NodeSpec = {
      opType: 'QuantizeLinear',
      domain: c.domain,
      opset: c.opset,
      inputs: [
        input('x', xType, c.dims, xType === DataType.FLOAT16 ? xv : x, false),
        input('scale', scaleType, c.scaleDims, scale, true),
        zp ? input('zp', c.type, c.scaleDims, zp, true) : null,
      ],
      attrs,
      outputs: [{ name: 'y', dataType: c.type }],
    };
    if (!zp) spec.inputs.pop();
    const res = await compareWithOrt(spec);
    assert.equal(res.rel, 0);
    // Independently of onnxruntime, the spec's formula (fp16 inputs and scales go through fp16 first).
    const ours = await runOurs(singleNodeModel(spec), spec);
    const xs = xType === DataType.FLOAT16 ? Float32Array.from(spec.inputs[0]!.data as Uint16Array, (b) => float16BitsToFloat32(b)) : x;
    const ss = xType === DataType.FLOAT16 ? Array.from(spec.inputs[1]!.data as Uint16Array, (b) => float16BitsToFloat32(b)) : Array.from(scale);
    assert.deepEqual(ours.y!.values, reference(xs, c.dims, ss, zp, c.type, c.axis ?? 1, c.block ?? 0));
  });
}

test('QuantizeLinear refuses float8 outputs with a model error naming the type', async () => {
  const spec: NodeSpec = {
    opType: 'QuantizeLinear',
    opset: 21,
    inputs: [input('x', DataType.FLOAT, [2], [1, 2]), input('scale', DataType.FLOAT, [], [1], true)],
    attrs: { output_dtype: DataType.FLOAT8E4M3FN },
    outputs: [{ name: 'y', dataType: DataType.FLOAT8E4M3FN }],
  };
  await assert.rejects(runOurs(singleNodeModel(spec), spec), (e: Error & { exitCode?: number }) => e.exitCode === 3 && /FLOAT8E4M3FN/.test(e.message));
});
