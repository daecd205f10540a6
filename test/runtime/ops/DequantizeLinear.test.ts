import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../../src/core/float16.js';
import { compareWithOrt, input, randFloats, randInts, rng, runOurs, singleNodeModel, type NodeSpec } from './quantHarness.js';

const ranges: Record<number, [number, number]> = {
  [DataType.UINT8]: [0, 255],
  [DataType.INT8]: [-128, 127],
  [DataType.UINT16]: [0, 65535],
  [DataType.INT16]: [-32768, 32767],
  [DataType.UINT4]: [0, 15],
  [DataType.INT4]: [-8, 7],
  [DataType.INT32]: [-(2 ** 31), 2 ** 31 - 1],
};

/** Plain-JS DequantizeLinear by the spec: float32((x - zp)) * scale, rounded to the output type. */
function reference(x: number[], dims: number[], scale: ArrayLike<number>, zp: ArrayLike<number> | null, axis: number, block: number, fp16Out: boolean): number[] {
  const a = axis < 0 ? axis + dims.length : axis;
  const inner = dims.slice(a + 1).reduce((p, d) => p * d, 1);
  const dAxis = dims[a] ?? 1;
  const blocks = block ? Math.ceil(dAxis / block) : dAxis;
  return x.map((v, i) => {
    let si = 0;
    if (scale.length > 1) {
      const outer = Math.floor(i / (inner * dAxis));
      const ai = Math.floor(i / inner) % dAxis;
      si = block ? (outer * blocks + Math.floor(ai / block)) * inner + (i % inner) : ai;
    }
    const y = Math.fround(Math.fround(v - (zp ? zp[si]! : 0)) * scale[si]!);
    return fp16Out ? float16BitsToFloat32(float32ToFloat16Bits(y)) : y;
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
  scaleType?: number;
  /** x as an initializer (4-bit inputs cannot be fed from JavaScript). */
  constX?: boolean;
}

const cases: Case[] = [
  { name: 'opset 10 per-tensor uint8', opset: 10, dims: [4, 5], type: DataType.UINT8, scaleDims: [], withZp: true },
  { name: 'opset 10 per-tensor int8 without zero point', opset: 10, dims: [6], type: DataType.INT8, scaleDims: [], withZp: false },
  { name: 'opset 10 int32 (bias) without zero point', opset: 10, dims: [7], type: DataType.INT32, scaleDims: [], withZp: false },
  { name: 'opset 13 per-axis int8 axis 0', opset: 13, dims: [3, 4], type: DataType.INT8, axis: 0, scaleDims: [3], withZp: true },
  { name: 'opset 13 per-axis uint8 axis -2', opset: 13, dims: [2, 5, 3], type: DataType.UINT8, axis: -2, scaleDims: [5], withZp: true },
  { name: 'opset 19 fp16 scale and output, per-tensor', opset: 19, dims: [4, 4], type: DataType.UINT8, scaleDims: [], withZp: true, scaleType: DataType.FLOAT16 },
  { name: 'opset 19 fp16 scale and output, per-axis int8', opset: 19, dims: [4, 4], type: DataType.INT8, axis: 1, scaleDims: [4], withZp: true, scaleType: DataType.FLOAT16 },
  { name: 'opset 21 int16 per-axis', opset: 21, dims: [3, 6], type: DataType.INT16, axis: 1, scaleDims: [6], withZp: true },
  { name: 'opset 21 uint16 per-tensor', opset: 21, dims: [3, 6], type: DataType.UINT16, scaleDims: [], withZp: true },
  { name: 'opset 21 int4 per-tensor', opset: 21, dims: [5, 3], type: DataType.INT4, scaleDims: [], withZp: true, constX: true },
  { name: 'opset 21 uint4 per-axis', opset: 21, dims: [5, 3], type: DataType.UINT4, axis: 0, scaleDims: [5], withZp: true, constX: true },
  { name: 'opset 21 blocked int4 block 4, K 10 (axis 1)', opset: 21, dims: [6, 10], type: DataType.INT4, axis: 1, block: 4, scaleDims: [6, 3], withZp: true, constX: true },
  { name: 'opset 21 blocked int4 block 32, K 70 (axis 0)', opset: 21, dims: [70, 5], type: DataType.INT4, axis: 0, block: 32, scaleDims: [3, 5], withZp: true, constX: true },
  { name: 'opset 21 blocked int4 block 32, K 100 (axis 1), no zero point', opset: 21, dims: [4, 100], type: DataType.INT4, axis: 1, block: 32, scaleDims: [4, 4], withZp: false, constX: true },
  { name: 'opset 21 blocked uint4 block 16, fp16 scales', opset: 21, dims: [3, 40], type: DataType.UINT4, axis: 1, block: 16, scaleDims: [3, 3], withZp: true, constX: true, scaleType: DataType.FLOAT16 },
  { name: 'opset 21 blocked int8 block 4, rank 3, axis 1', opset: 21, dims: [2, 9, 3], type: DataType.INT8, axis: 1, block: 4, scaleDims: [2, 3, 3], withZp: true },
  { name: 'opset 23 blocked uint8', opset: 23, dims: [2, 9], type: DataType.UINT8, axis: 1, block: 4, scaleDims: [2, 3], withZp: true },
  { name: 'com.microsoft int16 per-axis', opset: 17, domain: 'com.microsoft', dims: [3, 5], type: DataType.INT16, axis: 1, scaleDims: [5], withZp: true },
  { name: 'com.microsoft uint16 per-tensor', opset: 17, domain: 'com.microsoft', dims: [3, 5], type: DataType.UINT16, scaleDims: [], withZp: true },
  { name: 'com.microsoft int4 per-axis', opset: 21, domain: 'com.microsoft', dims: [3, 5], type: DataType.INT4, axis: 0, scaleDims: [3], withZp: true, constX: true },
  { name: 'com.microsoft uint4 per-tensor', opset: 21, domain: 'com.microsoft', dims: [3, 5], type: DataType.UINT4, scaleDims: [], withZp: true, constX: true },
];

for (const c of cases) {
  test(`DequantizeLinear ${c.name}: matches onnxruntime and the spec`, async () => {
    const r = rng(99 + c.dims.reduce((a, b) => a * b, 7));
    const n = c.dims.reduce((a, b) => a * b, 1);
    const [lo, hi] = ranges[c.type]!;
    const scaleCount = c.scaleDims.reduce((a, b) => a * b, 1);
    const scaleType = c.scaleType ?? DataType.FLOAT;
    const scaleF = randFloats(r, scaleCount, 0.001, 0.1);
    const scale = scaleType === DataType.FLOAT16 ? Array.from(scaleF, (v) => float16BitsToFloat32(float32ToFloat16Bits(v))) : Array.from(scaleF);
    const big = c.type === DataType.INT32 ? 1 << 26 : 0;
    const x = big ? randInts(r, n, -big, big) : randInts(r, n, lo, hi);
    if (!big) {
      x[0] = lo;
      x[n - 1] = hi;
    }
    const zp = c.withZp ? randInts(r, scaleCount, lo, hi) : null;
    const attrs: Record<string, number> = {};
    if (c.axis !== undefined) attrs.axis = c.axis;
    if (c.block) attrs.block_size = c.block;
    const spec: NodeSpec = {
      opType: 'DequantizeLinear',
      domain: c.domain,
      opset: c.opset,
      inputs: [input('x', c.type, c.dims, x, c.constX), input('scale', scaleType, c.scaleDims, scale, true)],
      attrs,
      outputs: [{ name: 'y', dataType: scaleType }],
    };
    if (zp) spec.inputs.push(input('zp', c.type, c.scaleDims, zp, true));
    const res = await compareWithOrt(spec);
    assert.ok(res.rel <= 1e-6, `relative difference ${res.rel}`);
    const ours = await runOurs(singleNodeModel(spec), spec);
    assert.deepEqual(ours.y!.values, reference(x, c.dims, scale, zp, c.axis ?? 1, c.block ?? 0, scaleType === DataType.FLOAT16));
  });
}

test('DequantizeLinear rejects a blocked scale whose shape does not fit block_size', async () => {
  const spec: NodeSpec = {
    opType: 'DequantizeLinear',
    opset: 21,
    inputs: [input('x', DataType.INT8, [2, 10], new Array(20).fill(1)), input('scale', DataType.FLOAT, [2, 2], [1, 1, 1, 1], true)],
    attrs: { axis: 1, block_size: 4 },
    outputs: [{ name: 'y', dataType: DataType.FLOAT }],
  };
  await assert.rejects(runOurs(singleNodeModel(spec), spec), (e: Error & { exitCode?: number }) => e.exitCode === 3 && /block_size 4/.test(e.message));
});
