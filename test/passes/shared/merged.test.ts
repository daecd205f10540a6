/**
 * The merged decoder's unfold / refold (passes/shared/merged.ts) on fixtures/decoder_merged: a round
 * trip without a pass gives the same bytes; each kind of rewrite a pass makes reaches the with-past
 * branch (a weight changed in place, a weight replaced by a DequantizeLinear output, a layer replaced by
 * other nodes, a bias Add after a layer), and our executor then computes a second step from the
 * with-past branch that matches the whole rows through the first-step one; what cannot be traced is said.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DataType } from '../../../src/core/dtype.js';
import { makeAttr, Tensor, type Graph, type Model, type Node } from '../../../src/ir/index.js';
import { loadModel, serializeModel } from '../../../src/onnx/index.js';
import { findMergedDecoder, refoldMergedDecoder, unfoldMergedDecoder } from '../../../src/passes/shared/merged.js';
import { Session } from '../../../src/runtime/session.js';
import { RTensor } from '../../../src/runtime/value.js';
import { repoRoot } from '../../helpers/repo.js';

const fixture = (name: string) => join(repoRoot(), 'fixtures', name, 'model.onnx');

test('only the merged layout is unfolded; unfold then refold gives the same bytes', async () => {
  for (const name of ['decoder_past', 'lm']) assert.equal(findMergedDecoder(await loadModel(fixture(name))), undefined, name);
  for (const name of ['decoder_merged', 'decoder_merged_fp16']) {
    const model = await loadModel(fixture(name));
    const before = serializeModel(model);
    const u = unfoldMergedDecoder(model)!;
    assert.ok(u, name);
    assert.equal(u.cond.name, 'use_cache_branch');
    assert.ok(!model.graph.nodes.some((n) => n.opType === 'If'), 'the first-step branch is the main graph');
    assert.deepEqual(model.graph.outputs.map((v) => v.name), ['logits', 'present.0.key', 'present.0.value', 'present.1.key', 'present.1.value']);
    // Each weight has one reader while unfolded.
    const weight = model.graph.initializers.find((v) => v.initializer!.rank === 2 && v.uses.length > 0)!;
    assert.equal(weight.uses.length, 1);
    const r = refoldMergedDecoder(u, model);
    assert.deepEqual(r, { mirrored: 0, warnings: [] });
    assert.deepEqual(Buffer.from(serializeModel(model)), Buffer.from(before), name);
  }
});

/** Our executor's logits of positions 24..31: as a second step after a past of 24 tokens, and in one step. */
async function secondStep(model: Model): Promise<{ gap: number; scale: number }> {
  const s = await Session.create(model, { backend: 'cpu' });
  const b = 2;
  const ids = (from: number, to: number) => RTensor.fromHost(DataType.INT64, [b, to - from], BigInt64Array.from({ length: b * (to - from) }, (_, i) => BigInt((Math.floor(i / (to - from)) * 31 + from + (i % (to - from))) * 7 % 256)));
  const feeds = (from: number, to: number, past?: Map<string, RTensor>) => {
    const p = from;
    const seq = to - from;
    const f: Record<string, RTensor> = {
      input_ids: ids(from, to),
      attention_mask: RTensor.fromHost(DataType.INT64, [b, p + seq], new BigInt64Array(b * (p + seq)).fill(1n)),
      position_ids: RTensor.fromHost(DataType.INT64, [b, seq], BigInt64Array.from({ length: b * seq }, (_, i) => BigInt(p + (i % seq)))),
      use_cache_branch: RTensor.fromHost(DataType.BOOL, [1], Uint8Array.from([p > 0 ? 1 : 0])),
    };
    for (let l = 0; l < 2; l++) {
      for (const kv of ['key', 'value']) f[`past_key_values.${l}.${kv}`] = past?.get(`present.${l}.${kv}`) ?? RTensor.fromHost(DataType.FLOAT, [b, 2, 0, 16], new Float32Array(0));
    }
    return f;
  };
  const first = s.runSync(feeds(0, 24));
  const step = s.runSync(feeds(24, 32, first), { outputs: ['logits'] }).get('logits')!.float32();
  const whole = s.runSync(feeds(0, 32), { outputs: ['logits'] }).get('logits')!.float32();
  let gap = 0;
  let scale = 0;
  for (let r = 0; r < b; r++) {
    for (let t = 0; t < 8; t++) {
      for (let v = 0; v < 256; v++) {
        const a = step[(r * 8 + t) * 256 + v]!;
        gap = Math.max(gap, Math.abs(a - whole[(r * 32 + 24 + t) * 256 + v]!));
        scale = Math.max(scale, Math.abs(a));
      }
    }
  }
  s.dispose();
  return { gap, scale };
}

function readersOf(g: Graph, op: string): Node[] {
  return g.nodes.filter((n) => n.opType === op && n.inputs.some((v) => v?.initializer && v.initializer.rank === 2));
}

test('each kind of rewrite reaches the with-past branch, which then agrees with the first-step branch', async () => {
  const model = await loadModel(fixture('decoder_merged'));
  const original = await secondStep(model);
  assert.ok(original.gap < 1e-4 * original.scale, `the fixture: gap ${original.gap}`);
  const u = unfoldMergedDecoder(model)!;
  const g = model.graph;
  const [a, b, c, d] = readersOf(g, 'MatMul') as [Node, Node, Node, Node];
  // a: weight halved in place (pruning, distillation).
  const wa = a.input(1)!.initializer!;
  wa.data = Float32Array.from(wa.data as Float32Array, (x) => x / 2);
  // b: weight replaced by DequantizeLinear(int8 codes, scale) (weight-only QDQ).
  const wb = b.input(1)!;
  const tb = wb.initializer!;
  const scale = Math.max(...Array.from(tb.data as Float32Array, Math.abs)) / 127;
  const codes = g.addInitializer('b_codes', new Tensor(DataType.INT8, tb.dims.slice(), Int8Array.from(tb.data as Float32Array, (x) => Math.round(x / scale))));
  const s = g.addInitializer('b_scale', Tensor.float32([], [scale]));
  const dq = g.createNode({ opType: 'DequantizeLinear', inputs: [codes, s], outputs: ['b_dq'], before: g.nodes[0] });
  b.setInput(1, dq.output(0)!);
  g.removeInitializer(wb);
  // c: MatMul(x, W) replaced by MatMul(MatMul(x, U), V) with W = U V exactly (U = W, V = I).
  const wc = c.input(1)!;
  const [k, n] = wc.initializer!.dims as [number, number];
  const U = g.addInitializer('c_u', Tensor.float32([k, n], (wc.initializer!.data as Float32Array).slice()));
  const eye = new Float32Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  const V = g.addInitializer('c_v', Tensor.float32([n, n], eye));
  const x = c.input(0)!;
  const y = c.output(0)!;
  const next = g.nodes[g.nodes.indexOf(c) + 1];
  g.removeNode(c, { safe: false, keepOutputs: true });
  const m1 = g.createNode({ opType: 'MatMul', inputs: [x, U], outputs: ['c_mid'], before: next });
  g.createNode({ opType: 'MatMul', inputs: [m1.output(0)!, V], outputs: [y], before: next });
  g.removeInitializer(wc);
  // d: a bias Add after the layer, which keeps the output's name (prune's bias correction).
  const yd = d.output(0)!;
  const pre = g.createValue(`${yd.name}_before_bias`);
  d.setOutput(0, pre);
  const bias = g.addInitializer('d_bias', Tensor.float32([d.input(1)!.initializer!.dims[1]!], new Float32Array(d.input(1)!.initializer!.dims[1]!).fill(0.25)));
  g.createNode({ opType: 'Add', inputs: [pre, bias], outputs: [yd], after: d });

  const r = refoldMergedDecoder(u, model);
  assert.equal(r.mirrored, 3, 'b, c and d (a is shared in place)');
  assert.deepEqual(r.warnings, []);
  const ifNode = model.graph.nodes.find((n2) => n2.opType === 'If')!;
  const thenG = ifNode.attrGraph('then_branch')!;
  assert.deepEqual(model.graph.nodes.map((n2) => n2.opType), ['DequantizeLinear', 'If'], 'the DequantizeLinear of constants serves both branches');
  assert.ok(thenG.nodes.some((n2) => n2.inputs.includes(dq.output(0)!)), 'the with-past reader of b reads the shared DequantizeLinear');
  assert.ok(thenG.nodes.some((n2) => n2.inputs.includes(U)) && thenG.nodes.some((n2) => n2.inputs.includes(V)), 'c is factored in the with-past branch too');
  assert.ok(thenG.nodes.some((n2) => n2.opType === 'Add' && n2.inputs.includes(bias)), 'd has its bias in the with-past branch too');
  const after = await secondStep(model);
  assert.ok(after.gap < 1e-4 * after.scale, `a second step through the with-past branch differs by ${after.gap}`);
  // And the model differs from the original (the rewrites are real).
  assert.ok(Math.abs(after.scale - original.scale) > 1e-3);
});

test('a rewrite that cannot be traced keeps the with-past node as it was, and says so', async () => {
  const model = await loadModel(fixture('decoder_merged'));
  const u = unfoldMergedDecoder(model)!;
  const g = model.graph;
  const [a] = readersOf(g, 'MatMul') as [Node];
  // The new weight reads an activation (the embedding output) that the with-past reader has no counterpart of.
  const emb = g.nodes.find((n) => n.opType === 'Gather' && n.input(0)?.initializer)!.output(0)!;
  const red = g.createNode({ opType: 'ReduceMax', inputs: [emb], outputs: ['odd_max'], attributes: [makeAttr('keepdims', 0, 'int')], before: a });
  const zero = g.addInitializer('odd_zero', Tensor.float32([], [0]));
  const mul = g.createNode({ opType: 'Mul', inputs: [red.output(0)!, zero], outputs: ['odd_mul'], before: a });
  const add = g.createNode({ opType: 'Add', inputs: [a.input(1)!, mul.output(0)!], outputs: ['odd_w'], before: a });
  a.setInput(1, add.output(0)!);
  const r = refoldMergedDecoder(u, model);
  assert.equal(r.mirrored, 0);
  assert.equal(r.warnings.length, 2);
  assert.match(r.warnings[0]!, /^merged decoder: 1 node of the with-past branch kept as it was \(past\/[^)]+\): the first-step rewrite could not be traced$/);
  assert.match(r.warnings[1]!, /^merged decoder: 3 nodes the pass added to the first-step branch away from the weights \(ReduceMax 1, Mul 1, Add 1\) have no counterpart/);
  const thenG = model.graph.nodes.find((n) => n.opType === 'If')!.attrGraph('then_branch')!;
  assert.ok(!thenG.nodes.some((n) => n.opType === 'ReduceMax'), 'nothing half-cloned');
});
