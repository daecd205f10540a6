import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/core/dtype.js';
import { AttrType, Graph, Model, Tensor, assertValid, makeAttr, topologicalSort, validateGraph } from '../../src/ir/index.js';

function chain(): { g: Graph; x: ReturnType<Graph['addInput']> } {
  const g = new Graph('g');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['n', 4] });
  const w = g.addInitializer('w', Tensor.float32([4, 4], new Float32Array(16).fill(1)));
  const mm = g.createNode({ opType: 'MatMul', inputs: [x, w], outputs: ['h'] });
  const relu = g.createNode({ opType: 'Relu', inputs: [mm.output(0)], outputs: ['y'] });
  g.outputs.push(relu.output(0)!);
  return { g, x };
}

test('producers and uses are kept by every edit', () => {
  const { g } = chain();
  const h = g.value('h')!;
  const w = g.value('w')!;
  assert.equal(h.producer?.opType, 'MatMul');
  assert.deepEqual(h.uses.map((u) => [u.node.opType, u.index]), [['Relu', 0]]);
  assert.equal(w.uses.length, 1);
  // Insert an Identity between MatMul and Relu.
  const id = g.createNode({ opType: 'Identity', inputs: [h], outputs: ['h2'], after: h.producer! });
  const relu = g.value('y')!.producer!;
  relu.replaceInput(h, id.output(0)!);
  assert.deepEqual(h.uses.map((u) => u.node.opType), ['Identity']);
  assert.deepEqual(id.output(0)!.uses.map((u) => u.node.opType), ['Relu']);
  assert.deepEqual(g.nodes.map((n) => n.opType), ['MatMul', 'Identity', 'Relu']);
  assert.deepEqual(validateGraph(g), []);
});

test('safe removal refuses to leave a dangling use; removal cleans uses and names', () => {
  const { g } = chain();
  const mm = g.value('h')!.producer!;
  assert.throws(() => g.removeNode(mm), /still used/);
  const relu = g.value('y')!.producer!;
  assert.throws(() => g.removeNode(relu), /graph output/);
  // Bypass Relu: the graph output becomes h, keeping the output name 'y'.
  g.replaceAllUses(g.value('y')!, g.value('h')!);
  g.removeNode(relu, { safe: true });
  assert.equal(g.outputs[0]!.name, 'y');
  assert.equal(g.outputs[0]!.producer, mm);
  assert.equal(g.value('w')!.uses.length, 1);
  assert.deepEqual(validateGraph(g), []);
});

test('replaceAllUses on a graph output fed by an input routes through Identity', () => {
  const { g, x } = chain();
  g.replaceAllUses(g.value('y')!, x);
  assert.equal(g.outputs[0]!.name, 'y');
  assert.equal(g.outputs[0]!.producer!.opType, 'Identity');
  g.removeUnused();
  assert.deepEqual(g.nodes.map((n) => n.opType), ['Identity']);
  assert.equal(g.initializers.length, 0);
  assert.deepEqual(validateGraph(g), []);
});

test('topological sort reorders an unsorted graph stably and detects cycles', () => {
  const { g } = chain();
  g.nodes.reverse();
  assert.ok(validateGraph(g).some((i) => /before it is defined/.test(i.message)));
  topologicalSort(g);
  assert.deepEqual(g.nodes.map((n) => n.opType), ['MatMul', 'Relu']);
  const a = g.createNode({ opType: 'Neg', inputs: [null], outputs: ['a'] });
  const b = g.createNode({ opType: 'Neg', inputs: [a.output(0)], outputs: ['b'] });
  a.setInput(0, b.output(0));
  assert.throws(() => topologicalSort(g), (e: Error & { exitCode?: number }) => e.exitCode === 3 && /cycle/.test(e.message));
});

test('subgraphs resolve outer names, count as implicit inputs for ordering', () => {
  const g = new Graph('main');
  const c = g.addInput('c', { kind: 'tensor', elemType: DataType.BOOL, shape: [] });
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: [2] });
  const ifNode = g.createNode({ opType: 'If', inputs: [c], outputs: ['out'] });
  const thenG = new Graph('then', g);
  const neg = thenG.createNode({ opType: 'Neg', inputs: [null], outputs: ['t'] });
  const elseG = new Graph('else', g);
  const abs = elseG.createNode({ opType: 'Abs', inputs: [null], outputs: ['e'] });
  ifNode.setAttr({ name: 'then_branch', type: AttrType.GRAPH, value: thenG });
  ifNode.setAttr({ name: 'else_branch', type: AttrType.GRAPH, value: elseG });
  thenG.outputs.push(neg.output(0)!);
  elseG.outputs.push(abs.output(0)!);
  // The branch bodies read 'h', produced after the If in node order: sorting must move the producer first.
  const pre = g.createNode({ opType: 'Relu', inputs: [x], outputs: ['h'] });
  neg.setInput(0, thenG.value('h')!);
  abs.setInput(0, elseG.value('h')!);
  g.outputs.push(ifNode.output(0)!);
  assert.equal(thenG.value('h'), pre.output(0));
  assert.ok(validateGraph(g).length > 0);
  topologicalSort(g);
  assert.deepEqual(g.nodes.map((n) => n.opType), ['Relu', 'If']);
  assert.deepEqual(validateGraph(g), []);
  assert.equal([...g.allNodes()].length, 4);
  // Names are unique across the whole model, subgraphs included.
  assert.notEqual(thenG.uniqueName('t'), 't');
});

test('attributes: ints beyond 2^53 stay exact, accessors clamp', () => {
  const g = new Graph('g');
  const n = g.createNode({ opType: 'Slice', inputs: [], outputs: 1 });
  n.setAttr({ name: 'ends', type: AttrType.INTS, value: [9223372036854775807n, 3] });
  n.setAttr(makeAttr('alpha', 0.5));
  n.setAttr(makeAttr('axis', 1));
  assert.deepEqual(n.attrInts('ends'), [Number.MAX_SAFE_INTEGER, 3]);
  assert.equal(n.attrFloat('alpha'), 0.5);
  assert.equal(n.attrInt('axis'), 1);
  assert.equal(n.attrInt('missing', 7), 7);
  assert.throws(() => n.attrInt('alpha'), /not an int/);
});

test('ensureOpset raises the IR version as ONNX requires', () => {
  const m = new Model(new Graph('g'), 7, [{ domain: '', version: 13 }]);
  m.ensureOpset('', 21);
  assert.equal(m.opset(''), 21);
  assert.equal(m.irVersion, 10);
  m.ensureOpset('com.microsoft', 1);
  assert.equal(m.opset('com.microsoft'), 1);
  m.ensureOpset('', 13);
  assert.equal(m.opset(''), 21);
});

test('assertValid names the problem', () => {
  const { g } = chain();
  const ghost = new Graph('other').addInput('ghost');
  g.value('y')!.producer!.setInput(0, ghost);
  assert.throws(() => assertValid(g), (e: Error) => /reads 'ghost'/.test(e.message));
});

test('tensors check their element count', () => {
  assert.throws(() => Tensor.float32([2, 3], [1, 2, 3]), /needs 6 entries/);
  const t = Tensor.int64([2], [1, 2]);
  assert.deepEqual(t.toNumbers(), [1, 2]);
  assert.equal(t.clone().data !== t.data, true);
});

test('moveNodes lifts a branch body into its parent and sinks it back, links and names kept', () => {
  const g = new Graph('main');
  const c = g.addInput('c', { kind: 'tensor', elemType: DataType.BOOL, shape: [] });
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: [2] });
  const w = g.addInitializer('w', Tensor.float32([2], [1, 2]));
  const body = new Graph('body', g);
  const mul = body.createNode({ opType: 'Mul', inputs: [x, w], outputs: ['m'] });
  const neg = body.createNode({ opType: 'Neg', inputs: [mul.output(0)], outputs: ['n'] });
  body.valueInfo.push(mul.output(0)!);
  body.outputs.push(neg.output(0)!);
  const ifNode = g.createNode({ opType: 'If', inputs: [c], outputs: ['out'], attributes: [{ name: 'then_branch', type: AttrType.GRAPH, value: body }, { name: 'else_branch', type: AttrType.GRAPH, value: body }] });
  g.outputs.push(ifNode.output(0)!);
  body.moveNodes([mul, neg], g, { before: ifNode });
  assert.deepEqual(g.nodes.map((n) => n.opType), ['Mul', 'Neg', 'If']);
  assert.equal(body.nodes.length, 0);
  assert.equal(g.value('m'), mul.output(0));
  assert.equal(mul.output(0)!.graph, g);
  assert.deepEqual(g.valueInfo.map((v) => v.name), ['m']);
  assert.equal(body.valueInfo.length, 0);
  assert.deepEqual(w.uses.map((u) => u.node), [mul], 'uses are the same links');
  assert.equal(neg.input(0), mul.output(0));
  g.moveNodes([mul, neg], body);
  assert.deepEqual(g.nodes.map((n) => n.opType), ['If']);
  assert.deepEqual(body.nodes, [mul, neg]);
  assert.equal(body.value('n'), neg.output(0));
  assert.equal(neg.output(0)!.graph, body);
  assert.deepEqual(body.valueInfo.map((v) => v.name), ['m']);
  assert.throws(() => g.moveNodes([mul], body), /not in graph 'main'/);
  assert.throws(() => body.moveNodes([mul], new Graph('other')), /not part of the same model/);
});
