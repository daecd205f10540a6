import { test } from 'node:test';
import { DataType } from '../../../src/core/dtype.js';
import { f32, matchOrt, nnBackends, outs, seeded, values, type NodeSpec } from './nnHarness.js';

/** Positive variances for BatchNormalization. */
function variance(r: () => number, name: string, c: number, init = true) {
  return values(name, DataType.FLOAT, [c], Float32Array.from({ length: c }, () => 0.2 + r()), init);
}

const specs: { name: string; make: (r: () => number) => NodeSpec }[] = [
  {
    name: 'BatchNormalization inference, 4-D, opset 9',
    make: (r) => ({ opType: 'BatchNormalization', opset: 9, inputs: [f32(r, 'x', [2, 5, 4, 3]), f32(r, 's', [5], true), f32(r, 'b', [5], true), f32(r, 'm', [5], true), variance(r, 'v', 5)], attrs: { epsilon: 1e-3 }, outputs: outs(1) }),
  },
  {
    name: 'BatchNormalization inference, 2-D input, opset 15',
    make: (r) => ({ opType: 'BatchNormalization', opset: 15, inputs: [f32(r, 'x', [6, 4]), f32(r, 's', [4]), f32(r, 'b', [4]), f32(r, 'm', [4]), variance(r, 'v', 4, false)], outputs: outs(1) }),
  },
  {
    name: 'LayerNormalization axis 1 of 3-D with Mean and InvStdDev outputs',
    make: (r) => ({ opType: 'LayerNormalization', opset: 17, inputs: [f32(r, 'x', [2, 3, 8]), f32(r, 's', [3, 8], true), f32(r, 'b', [3, 8], true)], attrs: { axis: 1, epsilon: 1e-3 }, outputs: outs(3) }),
  },
  {
    name: 'LayerNormalization last axis, no bias',
    make: (r) => ({ opType: 'LayerNormalization', opset: 17, inputs: [f32(r, 'x', [4, 16]), f32(r, 's', [16])], outputs: outs(1) }),
  },
  {
    name: 'InstanceNormalization 4-D',
    make: (r) => ({ opType: 'InstanceNormalization', opset: 6, inputs: [f32(r, 'x', [2, 3, 5, 4]), f32(r, 's', [3]), f32(r, 'b', [3])], attrs: { epsilon: 1e-4 }, outputs: outs(1) }),
  },
  {
    name: 'InstanceNormalization 3-D',
    make: (r) => ({ opType: 'InstanceNormalization', opset: 6, inputs: [f32(r, 'x', [2, 4, 9]), f32(r, 's', [4]), f32(r, 'b', [4])], outputs: outs(1) }),
  },
  { name: 'LpNormalization p=1 axis 1', make: (r) => ({ opType: 'LpNormalization', opset: 1, inputs: [f32(r, 'x', [3, 5, 2])], attrs: { p: 1, axis: 1 }, outputs: outs(1) }) },
  { name: 'LpNormalization p=2 last axis', make: (r) => ({ opType: 'LpNormalization', opset: 1, inputs: [f32(r, 'x', [4, 6])], outputs: outs(1) }) },
  { name: 'LRN size 3', make: (r) => ({ opType: 'LRN', opset: 13, inputs: [f32(r, 'x', [2, 7, 3, 3])], attrs: { size: 3, alpha: 0.01, beta: 0.6, bias: 1.5 }, outputs: outs(1) }) },
  { name: 'LRN size 5', make: (r) => ({ opType: 'LRN', opset: 13, inputs: [f32(r, 'x', [1, 6, 2, 5])], attrs: { size: 5, alpha: 0.5, beta: 0.75 }, outputs: outs(1) }) },
];

for (const s of specs) {
  for (const backend of nnBackends) {
    test(`${s.name} on ${backend}: matches onnxruntime`, async () => {
      await matchOrt(s.make(seeded(s.name)), backend, 1e-5);
    });
  }
}
