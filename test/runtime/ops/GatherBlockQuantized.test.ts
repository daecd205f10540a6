import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../../src/core/float16.js';
import { compareWithOrt, input, randFloats, randInts, rng, runOurs, singleNodeModel, type NodeSpec } from './quantHarness.js';

interface Case {
  name: string;
  type: number;
  /** Logical (unpacked) data dims. */
  dims: number[];
  bits?: number;
  block: number;
  gatherAxis: number;
  quantizeAxis: number;
  indices: number[];
  indexDims: number[];
  withZp: boolean;
  fp16?: boolean;
  indexType?: number;
}

const cases: Case[] = [
  { name: 'int4 table, block 16, zero points, int64 indices incl. negative', type: DataType.INT4, dims: [20, 48], block: 16, gatherAxis: 0, quantizeAxis: 1, indices: [3, -1, 0, 19, 7, 3], indexDims: [2, 3], withZp: true },
  { name: 'uint4 table, block 32, K not a multiple (40), no zero points', type: DataType.UINT4, dims: [10, 40], block: 32, gatherAxis: 0, quantizeAxis: 1, indices: [9, 2], indexDims: [2], withZp: false, indexType: DataType.INT32 },
  { name: 'int4, gather along axis 1, quantized along axis 0', type: DataType.INT4, dims: [40, 6], block: 16, gatherAxis: 1, quantizeAxis: 0, indices: [5, 0, 2], indexDims: [3], withZp: true },
  { name: 'uint8 packed 4 bits, packed zero points', type: DataType.UINT8, bits: 4, dims: [12, 64], block: 16, gatherAxis: 0, quantizeAxis: 1, indices: [11, 4, 4, 0], indexDims: [4], withZp: true },
  { name: 'uint8 packed 2 bits, packed zero points', type: DataType.UINT8, bits: 2, dims: [6, 64], block: 32, gatherAxis: 0, quantizeAxis: 1, indices: [5, 1], indexDims: [2], withZp: true },
  { name: 'uint8 8 bits, default zero point 128, fp16 scales', type: DataType.UINT8, bits: 8, dims: [8, 32], block: 16, gatherAxis: 0, quantizeAxis: 1, indices: [1, 7], indexDims: [1, 2], withZp: false, fp16: true },
];

for (const c of cases) {
  test(`GatherBlockQuantized ${c.name}: matches onnxruntime and the spec`, async () => {
    const r = rng(c.dims[0]! * 31 + c.dims[1]!);
    const bits = c.bits ?? 4;
    const packed = c.type === DataType.UINT8;
    const comps = packed ? 8 / bits : 1;
    const [lo, hi] = c.type === DataType.INT4 ? [-8, 7] : [0, (1 << bits) - 1];
    const n = c.dims.reduce((a, b) => a * b, 1);
    const codes = randInts(r, n, lo, hi);
    const qa = c.quantizeAxis;
    const blocks = Math.ceil(c.dims[qa]! / c.block);
    const sDims = c.dims.map((d, i) => (i === qa ? blocks : d));
    const sCount = sDims.reduce((a, b) => a * b, 1);
    const scales = Array.from(randFloats(r, sCount, 0.01, 0.1), (v) => (c.fp16 ? float16BitsToFloat32(float32ToFloat16Bits(v)) : Math.fround(v)));
    const zps = randInts(r, sCount, lo, hi);
    // Pack codes (and zero points) along the last axis for uint8 data.
    const pack = (vals: number[], rowLen: number): number[] => {
      const rows = vals.length / rowLen;
      const per = Math.ceil(rowLen / comps);
      const out = new Array<number>(rows * per).fill(0);
      for (let i = 0; i < rows; i++) for (let j = 0; j < rowLen; j++) out[i * per + Math.floor(j / comps)]! |= vals[i * rowLen + j]! << ((j % comps) * bits);
      return out;
    };
    const dataDims = packed ? [...c.dims.slice(0, -1), c.dims[c.dims.length - 1]! / comps] : c.dims;
    const data = packed ? pack(codes, c.dims[c.dims.length - 1]!) : codes;
    const zpDims = packed ? [...sDims.slice(0, -1), Math.ceil(sDims[sDims.length - 1]! / comps)] : sDims;
    const zpData = packed ? pack(zps, sDims[sDims.length - 1]!) : zps;
    const fType = c.fp16 ? DataType.FLOAT16 : DataType.FLOAT;
    const attrs: Record<string, number> = { gather_axis: c.gatherAxis, quantize_axis: c.quantizeAxis, block_size: c.block };
    if (c.bits) attrs.bits = c.bits;
    const spec: NodeSpec = {
      opType: 'GatherBlockQuantized',
      domain: 'com.microsoft',
      opset: 21,
      inputs: [
        input('data', c.type, dataDims, data, true),
        { name: 'indices', dataType: c.indexType ?? DataType.INT64, dims: c.indexDims, data: c.indexType === DataType.INT32 ? Int32Array.from(c.indices) : BigInt64Array.from(c.indices.map(BigInt)) },
        input('scales', fType, sDims, scales, true),
      ],
      attrs,
      outputs: [{ name: 'y', dataType: fType }],
    };
    if (c.withZp) spec.inputs.push(input('zp', c.type, zpDims, zpData, true));
    await compareWithOrt(spec, { tol: 0 });

    // The spec, element by element.
    const g = c.gatherAxis;
    const outer = c.dims.slice(0, g).reduce((a, b) => a * b, 1);
    const inner = c.dims.slice(g + 1).reduce((a, b) => a * b, 1);
    const qInner = c.dims.slice(qa + 1).reduce((a, b) => a * b, 1);
    const expected: number[] = [];
    for (let m = 0; m < outer; m++) {
      for (const raw of c.indices) {
        const row = raw < 0 ? raw + c.dims[g]! : raw;
        for (let e = 0; e < inner; e++) {
          const di = (m * c.dims[g]! + row) * inner + e;
          const y = Math.floor(di / qInner) % c.dims[qa]!;
          const x = Math.floor(di / (qInner * c.dims[qa]!));
          const si = (x * blocks + Math.floor(y / c.block)) * qInner + (di % qInner);
          const z = c.withZp ? zps[si]! : packed ? 1 << (bits - 1) : 0;
          const v = Math.fround(Math.fround(codes[di]! - z) * scales[si]!);
          expected.push(c.fp16 ? float16BitsToFloat32(float32ToFloat16Bits(v)) : v);
        }
      }
    }
    const ours = await runOurs(singleNodeModel(spec), spec);
    assert.deepEqual(ours.y!.dims, [...c.dims.slice(0, g), ...c.indexDims, ...c.dims.slice(g + 1)]);
    assert.deepEqual(ours.y!.values, expected);
  });
}
