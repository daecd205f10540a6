import { test } from 'node:test';
import { DataType } from '../../../src/core/dtype.js';
import { Graph, Model, Tensor, makeAttr } from '../../../src/ir/index.js';
import { agreeWithOrt, f32 } from './shapeHarness.js';

const float = (shape?: number[]) => ({ kind: 'tensor' as const, elemType: DataType.FLOAT, shape });

/** then: x + a; else: x * b; both read outer-scope values; the branches' outputs have different shapes. */
function ifModel(): Model {
  const g = new Graph('main');
  const c = g.addInput('c', { kind: 'tensor', elemType: DataType.BOOL, shape: [] });
  const x = g.addInput('x', float([2, 3]));
  const a = g.addInitializer('a', new Tensor(DataType.FLOAT, [3], Float32Array.of(1, 2, 3)), true);
  const b = g.addInitializer('b', new Tensor(DataType.FLOAT, [4, 1, 1], Float32Array.of(-1, 0.5, 2, 3)), true);
  const thenG = new Graph('then', g);
  const t = thenG.createNode({ opType: 'Add', inputs: [x, a], outputs: ['t_out'] });
  t.output(0)!.type = float();
  thenG.outputs.push(t.output(0)!);
  const elseG = new Graph('else', g);
  const e = elseG.createNode({ opType: 'Mul', inputs: [x, b], outputs: ['e_out'] });
  e.output(0)!.type = float();
  elseG.outputs.push(e.output(0)!);
  const node = g.createNode({ opType: 'If', inputs: [c], outputs: ['y'], attributes: [makeAttr('then_branch', thenG), makeAttr('else_branch', elseG)] });
  node.output(0)!.type = float();
  g.outputs.push(node.output(0)!);
  return new Model(g, 8, [{ domain: '', version: 16 }]);
}

test('If runs the branch the condition picks, reading outer-scope values', async () => {
  for (const cond of [1, 0]) {
    await agreeWithOrt(ifModel(), { inputs: [{ name: 'c', dataType: DataType.BOOL, dims: [], data: Uint8Array.of(cond) }, f32('x', [2, 3])] }, 0);
  }
});
