import { test } from 'node:test';
import { DataType } from '../../../src/core/dtype.js';
import { Graph, Model, makeAttr } from '../../../src/ir/index.js';
import { agreeWithOrt, f32, intAttr } from './shapeHarness.js';

const float = (shape?: number[]) => ({ kind: 'tensor' as const, elemType: DataType.FLOAT, shape });

/**
 * Opset 11: state s [3] accumulates rows of X [5, 3] (forward, axis 0); a scan output is x_t * y_t where
 * y_t are the columns of Y [3, 5] taken backwards (axis 1, direction 1), stacked on axis `outAxis`
 * in direction `outDir`.
 */
function scanModel(outAxis: number, outDir: number): Model {
  const g = new Graph('main');
  const s0 = g.addInput('s0', float([3]));
  const x = g.addInput('x', float([5, 3]));
  const y = g.addInput('y', float([3, 5]));
  const body = new Graph('body', g);
  const s = body.addInput('s', float([3]));
  const xt = body.addInput('xt', float([3]));
  const yt = body.addInput('yt', float([3]));
  const add = body.createNode({ opType: 'Add', inputs: [s, xt], outputs: ['s_next'] });
  const mul = body.createNode({ opType: 'Mul', inputs: [xt, yt], outputs: ['prod'] });
  add.output(0)!.type = float([3]);
  mul.output(0)!.type = float([3]);
  body.outputs.push(add.output(0)!, mul.output(0)!);
  const scan = g.createNode({
    opType: 'Scan',
    inputs: [s0, x, y],
    outputs: ['s_final', 'prods'],
    attributes: [makeAttr('body', body), intAttr('num_scan_inputs', 2), intAttr('scan_input_axes', [0, 1]), intAttr('scan_input_directions', [0, 1]), intAttr('scan_output_axes', [outAxis]), intAttr('scan_output_directions', [outDir])],
  });
  scan.output(0)!.type = float([3]);
  scan.output(1)!.type = float();
  g.outputs.push(scan.output(0)!, scan.output(1)!);
  return new Model(g, 8, [{ domain: '', version: 16 }]);
}

/** Opset 8: a batch axis on everything, scan axis 1, no sequence_lens. */
function scan8Model(): Model {
  const g = new Graph('main');
  const s0 = g.addInput('s0', float([2, 3]));
  const x = g.addInput('x', float([2, 4, 3]));
  const body = new Graph('body', g);
  const s = body.addInput('s', float([3]));
  const xt = body.addInput('xt', float([3]));
  const add = body.createNode({ opType: 'Add', inputs: [s, xt], outputs: ['s_next'] });
  const mul = body.createNode({ opType: 'Mul', inputs: [add.output(0), xt], outputs: ['out'] });
  add.output(0)!.type = float([3]);
  mul.output(0)!.type = float([3]);
  body.outputs.push(add.output(0)!, mul.output(0)!);
  const scan = g.createNode({ opType: 'Scan', inputs: [null, s0, x], outputs: ['s_final', 'outs'], attributes: [makeAttr('body', body), intAttr('num_scan_inputs', 1), intAttr('directions', [1])] });
  scan.output(0)!.type = float([2, 3]);
  scan.output(1)!.type = float([2, 4, 3]);
  g.outputs.push(scan.output(0)!, scan.output(1)!);
  return new Model(g, 4, [{ domain: '', version: 8 }]);
}

test('Scan (opset 9+): input axes and directions, output axes and directions agree with onnxruntime', async () => {
  const spec = { inputs: [f32('s0', [3], 1), f32('x', [5, 3], 2), f32('y', [3, 5], 3)] };
  for (const [axis, dir] of [[0, 0], [1, 0], [0, 1], [-1, 1]] as const) await agreeWithOrt(scanModel(axis, dir), spec, 1e-6);
});

test('Scan (opset 8): batched, reversed input', async () => {
  await agreeWithOrt(scan8Model(), { inputs: [f32('s0', [2, 3], 1), f32('x', [2, 4, 3], 2)] }, 1e-6);
});
