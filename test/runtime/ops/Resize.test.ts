import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { makeAttr, type Attribute } from '../../../src/ir/attribute.js';
import { Graph, Model, Tensor } from '../../../src/ir/index.js';
import { Session } from '../../../src/runtime/session.js';
import { RTensor } from '../../../src/runtime/value.js';
import { checkOp, f32, floatAttr, i64, intAttr } from './shapeHarness.js';
import { testBackend } from '../../helpers/backend.js';

const scales = (v: number[]) => ({ name: 'scales', dataType: DataType.FLOAT, dims: [v.length], data: Float32Array.from(v), init: true });
const roi = (v: number[]) => ({ name: 'roi', dataType: DataType.FLOAT, dims: [v.length], data: Float32Array.from(v), init: true });
const s = (name: string, v: string) => makeAttr(name, v);

test('Resize (opset 13): nearest modes and coordinate transforms against onnxruntime', async () => {
  const x = f32('x', [1, 3, 20, 30]);
  for (const coord of ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn']) {
    for (const nearest of ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']) {
      const attrs = [s('mode', 'nearest'), s('coordinate_transformation_mode', coord), s('nearest_mode', nearest)];
      await checkOp('Resize', 13, [x, null, scales([1, 1, 2, 1.5])], attrs);
      await checkOp('Resize', 13, [x, null, null, i64('sizes', [1, 3, 7, 11])], attrs);
    }
  }
});

test('Resize (opset 13): linear and cubic, up and down, exclude_outside, tf_crop_and_resize', async () => {
  const x = f32('x', [2, 3, 12, 16]);
  for (const coord of ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric']) {
    for (const mode of ['linear', 'cubic']) {
      const attrs: Attribute[] = [s('mode', mode), s('coordinate_transformation_mode', coord)];
      await checkOp('Resize', 13, [x, null, scales([1, 1, 2.5, 0.6])], attrs, undefined, 1e-5);
      await checkOp('Resize', 13, [x, null, null, i64('sizes', [2, 3, 5, 33])], attrs, undefined, 1e-5);
    }
  }
  await checkOp('Resize', 13, [x, null, scales([1, 1, 0.7, 1.3])], [s('mode', 'cubic'), floatAttr('cubic_coeff_a', -0.5), intAttr('exclude_outside', 1)], undefined, 1e-5);
  const crop = [s('coordinate_transformation_mode', 'tf_crop_and_resize'), floatAttr('extrapolation_value', 10)];
  await checkOp('Resize', 13, [x, roi([0, 0, -0.2, 0.4, 1, 1, 0.6, 1.3]), null, i64('sizes', [2, 3, 9, 10])], [s('mode', 'linear'), ...crop], undefined, 1e-5);
  await checkOp('Resize', 13, [x, roi([0, 0, 0.1, -0.3, 1, 1, 0.9, 0.8]), null, i64('sizes', [2, 3, 9, 10])], [s('mode', 'nearest'), ...crop]);
});

test('Resize (opset 18/19): axes, keep_aspect_ratio_policy, antialias, half_pixel_symmetric', async () => {
  const x = f32('x', [1, 2, 24, 20]);
  await checkOp('Resize', 18, [x, null, scales([0.5, 1.5])], [s('mode', 'linear'), intAttr('axes', [2, 3])], undefined, 1e-5);
  // onnxruntime 1.30 indexes with `axes` unnormalised, so it is given non-negative ones here.
  for (const policy of ['not_larger', 'not_smaller']) {
    await checkOp('Resize', 18, [x, null, null, i64('sizes', [10, 13])], [s('mode', 'linear'), intAttr('axes', [2, 3]), s('keep_aspect_ratio_policy', policy)], undefined, 1e-5);
  }
  for (const mode of ['linear', 'cubic']) {
    await checkOp('Resize', 18, [x, null, scales([1, 1, 0.3, 0.45])], [s('mode', mode), intAttr('antialias', 1)], undefined, 1e-5);
    await checkOp('Resize', 18, [x, null, null, i64('sizes', [1, 2, 7, 9])], [s('mode', mode), intAttr('antialias', 1)], undefined, 1e-5);
  }
  await checkOp('Resize', 19, [x, null, scales([1, 1, 0.55, 1.7])], [s('mode', 'linear'), s('coordinate_transformation_mode', 'half_pixel_symmetric')], undefined, 1e-5);
});

test('Resize-10 and Upsample (opsets 7 and 9): asymmetric, floor/ceil nearest and linear', async () => {
  const x = f32('x', [1, 2, 5, 6]);
  for (const mode of ['nearest', 'linear']) {
    await checkOp('Resize', 10, [x, scales([1, 1, 2, 3])], [s('mode', mode)], undefined, 1e-5);
    await checkOp('Resize', 10, [x, scales([1, 1, 0.5, 0.7])], [s('mode', mode)], undefined, 1e-5);
    await checkOp('Upsample', 9, [x, scales([1, 1, 2, 2.5])], [s('mode', mode)], undefined, 1e-5);
    await checkOp('Upsample', 7, [x], [s('mode', mode), floatAttr('scales', [1, 1, 3, 2])], undefined, 1e-5);
  }
});

test('Resize keeps integer data exact under nearest', async () => {
  const x = { name: 'x', dataType: DataType.UINT8, dims: [1, 1, 3, 4], data: Uint8Array.from({ length: 12 }, (_, i) => i * 20) };
  await checkOp('Resize', 13, [x, null, scales([1, 1, 2, 1.5])], [s('mode', 'nearest')], [{ name: 'y', dataType: DataType.UINT8 }]);
});

test('Resize-18 takes negative axes as counted from the back', async () => {
  const run = async (axes: number[]) => {
    const g = new Graph('g');
    const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: [1, 2, 6, 4] });
    const sizes = g.addInitializer('sizes', new Tensor(DataType.INT64, [2], BigInt64Array.of(3n, 9n)));
    const n = g.createNode({ opType: 'Resize', inputs: [x, null, null, sizes], outputs: ['y'], attributes: [s('mode', 'linear'), intAttr('axes', axes)] });
    g.outputs.push(n.output(0)!);
    const session = await Session.create(new Model(g, 8, [{ domain: '', version: 18 }]), { backend: testBackend });
    return session.runSync({ x: RTensor.fromHost(DataType.FLOAT, [1, 2, 6, 4], Float32Array.from({ length: 48 }, (_, i) => Math.sin(i))) }).get('y')!;
  };
  const neg = await run([-2, -1]);
  const pos = await run([2, 3]);
  assert.deepEqual(neg.dims, [1, 2, 3, 9]);
  assert.deepEqual(neg.numbers(), pos.numbers());
});
