import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { Graph, Model, Tensor, makeAttr } from '../../../src/ir/index.js';
import { agreeWithOrt } from './shapeHarness.js';

const float = (shape?: number[]) => ({ kind: 'tensor' as const, elemType: DataType.FLOAT, shape });
const int64 = (shape?: number[]) => ({ kind: 'tensor' as const, elemType: DataType.INT64, shape });
const bool = (shape?: number[]) => ({ kind: 'tensor' as const, elemType: DataType.BOOL, shape });

/**
 * y <- y + w (w from the outer graph), scan output y*y, continuing while i < limit; M caps the trips.
 * With limit 3 and M 10 the body runs for i = 0..3 and stops on the condition.
 */
function loopModel(withTripCount: boolean, withCond: boolean): Model {
  const g = new Graph('main');
  const m = withTripCount ? g.addInput('M', int64([])) : null;
  const c0 = withCond ? g.addInput('cond', bool([])) : null;
  const y0 = g.addInput('y0', float([2, 3]));
  const w = g.addInitializer('w', new Tensor(DataType.FLOAT, [2, 3], Float32Array.of(1, -2, 0.5, 3, 0, -1)), true);
  const limit = g.addInitializer('limit', new Tensor(DataType.INT64, [], BigInt64Array.of(3n)), true);
  const body = new Graph('body', g);
  const i = body.addInput('i', int64([]));
  body.addInput('c', bool([]));
  const y = body.addInput('y', float([2, 3]));
  const add = body.createNode({ opType: 'Add', inputs: [y, w], outputs: ['y_next'] });
  const sq = body.createNode({ opType: 'Mul', inputs: [add.output(0), add.output(0)], outputs: ['y_sq'] });
  const less = body.createNode({ opType: 'Less', inputs: [i, limit], outputs: ['c_next'] });
  less.output(0)!.type = bool([]);
  add.output(0)!.type = float([2, 3]);
  sq.output(0)!.type = float([2, 3]);
  body.outputs.push(less.output(0)!, add.output(0)!, sq.output(0)!);
  const loop = g.createNode({ opType: 'Loop', inputs: [m, c0, y0], outputs: ['y_final', 'y_scan'], attributes: [makeAttr('body', body)] });
  loop.output(0)!.type = float([2, 3]);
  loop.output(1)!.type = float();
  g.outputs.push(loop.output(0)!, loop.output(1)!);
  return new Model(g, 8, [{ domain: '', version: 16 }]);
}

const feeds = (M: number | null, cond: boolean | null) => ({
  inputs: [
    M === null ? null : { name: 'M', dataType: DataType.INT64, dims: [], data: BigInt64Array.of(BigInt(M)) },
    cond === null ? null : { name: 'cond', dataType: DataType.BOOL, dims: [], data: Uint8Array.of(cond ? 1 : 0) },
    { name: 'y0', dataType: DataType.FLOAT, dims: [2, 3], data: Float32Array.of(0.5, 1, -1, 2, 0, 1) },
  ],
});

test('Loop: trip count, condition, loop-carried values and scan outputs agree with onnxruntime', async () => {
  assert.equal(await agreeWithOrt(loopModel(true, true), feeds(10, true)), 0);
  assert.equal(await agreeWithOrt(loopModel(true, true), feeds(2, true)), 0);
  assert.equal(await agreeWithOrt(loopModel(false, true), feeds(null, true)), 0);
  assert.equal(await agreeWithOrt(loopModel(true, false), feeds(10, null)), 0);
});

test('Loop that runs zero times returns its initial values and empty scan outputs', async () => {
  assert.equal(await agreeWithOrt(loopModel(true, true), feeds(0, true)), 0);
  assert.equal(await agreeWithOrt(loopModel(true, true), feeds(5, false)), 0);
});
