import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { f32, matchOrt, nnBackends, outs, seeded, values, type NodeSpec } from './nnHarness.js';

interface Case {
  name: string;
  op: 'MaxPool' | 'AveragePool' | 'GlobalAveragePool' | 'GlobalMaxPool';
  x: number[];
  attrs: Record<string, number | number[] | string>;
  indices?: boolean;
  /** Shift every input value below zero (all-negative windows). */
  negative?: boolean;
  opset?: number;
}

const cases: Case[] = [
  { name: 'max 3x3 stride 2 pads 1, ceil_mode (overhang)', op: 'MaxPool', x: [2, 3, 8, 9], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 } },
  { name: 'max dilations 2 (tap path)', op: 'MaxPool', x: [1, 2, 9, 10], attrs: { kernel_shape: [3, 2], dilations: [2, 2], strides: [1, 2], pads: [1, 0, 1, 1] } },
  { name: 'max SAME_LOWER', op: 'MaxPool', x: [1, 2, 7, 6], attrs: { kernel_shape: [2, 3], strides: [2, 2], auto_pad: 'SAME_LOWER' } },
  { name: 'max with Indices, pads', op: 'MaxPool', x: [2, 3, 6, 7], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 0, 1, 1] }, indices: true },
  { name: 'max with Indices, storage_order 1', op: 'MaxPool', x: [1, 2, 5, 6], attrs: { kernel_shape: [2, 2], strides: [1, 2], storage_order: 1 }, indices: true },
  { name: 'max 1-D with Indices', op: 'MaxPool', x: [2, 3, 11], attrs: { kernel_shape: [3], strides: [2], pads: [1, 1] }, indices: true },
  { name: 'max 3-D, all-negative input', op: 'MaxPool', x: [1, 2, 5, 5, 4], attrs: { kernel_shape: [2, 3, 2], strides: [2, 1, 2], pads: [0, 1, 0, 1, 1, 0] }, negative: true },
  { name: 'max uint8', op: 'MaxPool', x: [1, 2, 6, 6], attrs: { kernel_shape: [3, 3], strides: [2, 2] } },
  { name: 'average, pads excluded from the divisor', op: 'AveragePool', x: [2, 3, 7, 8], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } },
  { name: 'average, count_include_pad with ceil_mode overhang', op: 'AveragePool', x: [1, 2, 8, 7], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 0, 1, 0], count_include_pad: 1, ceil_mode: 1 } },
  { name: 'average, ceil_mode, pads excluded', op: 'AveragePool', x: [1, 2, 8, 7], attrs: { kernel_shape: [3, 2], strides: [2, 2], pads: [0, 1, 0, 0], ceil_mode: 1 } },
  { name: 'average [3, 2] stride [3, 2] (ppocr-rec)', op: 'AveragePool', x: [1, 4, 3, 80], attrs: { kernel_shape: [3, 2], strides: [3, 2], pads: [0, 0, 0, 0] } },
  { name: 'average 1-D SAME_UPPER', op: 'AveragePool', x: [2, 2, 13], attrs: { kernel_shape: [4], strides: [3], auto_pad: 'SAME_UPPER' } },
  { name: 'average 3-D, count_include_pad', op: 'AveragePool', x: [1, 2, 5, 4, 6], attrs: { kernel_shape: [3, 2, 3], strides: [2, 2, 2], pads: [1, 0, 1, 1, 1, 1], count_include_pad: 1 } },
  { name: 'global average', op: 'GlobalAveragePool', x: [2, 5, 4, 7], attrs: {} },
  { name: 'global max, 3-D', op: 'GlobalMaxPool', x: [2, 3, 3, 4, 2], attrs: {} },
];

for (const c of cases) {
  for (const backend of nnBackends) {
    test(`${c.op} ${c.name} on ${backend}: matches onnxruntime`, async () => {
      const r = seeded(c.name);
      let x = f32(r, 'x', c.x);
      if (c.negative) x = { ...x, data: (x.data as Float32Array).map((v) => v - 2) };
      const u8 = c.name.includes('uint8');
      if (u8) x = values('x', DataType.UINT8, c.x, Uint8Array.from(x.data as Float32Array, (v) => Math.floor((v + 1) * 127)));
      const outputs = [{ name: 'y0', dataType: u8 ? DataType.UINT8 : DataType.FLOAT }, ...(c.indices ? [{ name: 'y1', dataType: DataType.INT64 }] : [])];
      const spec: NodeSpec = { opType: c.op, opset: c.opset ?? 13, inputs: [x], attrs: c.attrs, outputs };
      await matchOrt(spec, backend, 1e-6);
    });
  }
}

test('MaxPool Indices: ties resolve to the first maximum, as in onnxruntime', async () => {
  const x = Float32Array.from([1, 3, 3, 0, 3, 1, 2, 3, 0, 0, 3, 3, 1, 1, 1, 3]);
  const spec: NodeSpec = {
    opType: 'MaxPool',
    opset: 13,
    inputs: [values('x', DataType.FLOAT, [1, 1, 4, 4], x)],
    attrs: { kernel_shape: [2, 2], strides: [1, 1] },
    outputs: [...outs(1), { name: 'y1', dataType: DataType.INT64 }],
  };
  for (const backend of nnBackends) assert.equal(await matchOrt(spec, backend), 0);
});

for (const withShape of [false, true]) {
  for (const backend of nnBackends) {
    test(`MaxUnpool ${withShape ? 'with' : 'without'} output_shape on ${backend}: matches onnxruntime`, async () => {
      const r = seeded(`unpool${withShape}`);
      const x = f32(r, 'x', [2, 3, 3, 4]);
      // Indices as MaxPool (kernel 2, stride 2) over [2, 3, 6, 8] would give them: one per window.
      const idx = new BigInt64Array(2 * 3 * 3 * 4);
      for (let p = 0; p < 6; p++) {
        for (let i = 0; i < 3; i++) {
          for (let j = 0; j < 4; j++) idx[(p * 3 + i) * 4 + j] = BigInt(p * 48 + (2 * i + (j % 2)) * 8 + 2 * j + ((i + j) % 2));
        }
      }
      const inputs = [x, values('i', DataType.INT64, [2, 3, 3, 4], idx), ...(withShape ? [values('shape', DataType.INT64, [4], BigInt64Array.from([2n, 3n, 7n, 9n]))] : [])];
      const spec: NodeSpec = { opType: 'MaxUnpool', opset: 11, inputs, attrs: { kernel_shape: [2, 2], strides: [2, 2] }, outputs: outs(1) };
      await matchOrt(spec, backend);
    });
  }
}
