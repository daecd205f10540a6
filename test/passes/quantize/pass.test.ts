import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { defaultContext } from '../../../src/core/logger.js';
import { RTensor } from '../../../src/runtime/value.js';
import { parseQuantizeOptions, quantize } from '../../../src/passes/quantize/index.js';
import { serializeModel } from '../../../src/onnx/index.js';
import { makeAttr } from '../../../src/ir/attribute.js';
import { cnnModel, gemmModel, markOutput, matmulModel, mlpModel, opCounts, randn, relDiff, runOrt } from './helpers.js';

const cnnFeeds = (n = 4, seed = 11) => ({ x: { data: randn(n * 2 * 64, seed), dims: [n, 2, 8, 8] } });
const mlpFeeds = (n = 8, seed = 12) => ({ x: { data: randn(n * 48, seed), dims: [n, 48] } });

function batches(kind: 'cnn' | 'mlp', count: number, n = 8) {
  const out = [];
  for (let b = 0; b < count; b++) {
    const f = kind === 'cnn' ? cnnFeeds(n, 100 + b) : mlpFeeds(n, 200 + b);
    out.push({ x: RTensor.fromHost(DataType.FLOAT, f.x.dims, f.x.data) });
  }
  return out;
}

test('weight-only int8: per-channel DequantizeLinear on every weight, runs in onnxruntime, ~0.26x weight bytes', async () => {
  const model = mlpModel(1);
  const ref = await runOrt(mlpModel(1), mlpFeeds());
  const r = await quantize(model, parseQuantizeOptions({ weightOnly: true }), defaultContext);
  assert.equal(r.modified, true);
  assert.deepEqual(opCounts(model), { DequantizeLinear: 3, Gemm: 2, MatMul: 1, Add: 1, Relu: 2 });
  assert.equal(r.layers.length, 3);
  for (const l of r.layers) {
    assert.equal(l.bits, 8);
    assert.ok(l.error! > 0 && l.error! < 1e-4, `${l.name} error ${l.error}`);
  }
  assert.ok(r.plan.bytes.after / r.plan.bytes.before < 0.27);
  const got = await runOrt(model, mlpFeeds());
  assert.ok(relDiff(got.logits!, ref.logits!) < 0.01);
});

test('weight-only int4: MatMulNBits for MatMul/Gemm, head kept at 8 bits (an 8-bit MatMulNBits), ragged K handled', async () => {
  const model = mlpModel(2);
  const ref = await runOrt(mlpModel(2), mlpFeeds());
  const r = await quantize(model, parseQuantizeOptions({ bits: 4, groupSize: 32 }), defaultContext);
  const counts = opCounts(model);
  assert.equal(counts.MatMulNBits, 3);
  assert.equal(counts.DequantizeLinear, undefined, 'the head is no DequantizeLinear: onnxruntime would materialise it in float every run');
  const bitsOf = model.graph.nodes.filter((n) => n.opType === 'MatMulNBits').map((n) => n.attrInt('bits', 0)).sort();
  assert.deepEqual(bitsOf, [4, 4, 8]);
  const head = r.layers.find((l) => l.name === 'head')!;
  assert.equal(head.bits, 8);
  assert.equal(head.format, 'matmulnbits');
  assert.match(String(head.note), /output head kept at 8 bits/);
  assert.equal(r.layers.find((l) => l.name === 'fc1')!.bits, 4);
  const got = await runOrt(model, mlpFeeds());
  const d = relDiff(got.logits!, ref.logits!);
  assert.ok(d < 0.2, `relative output error ${d}`);
  // --no-keep-sensitive: the head goes to 4 bits too (one more MatMulNBits)
  const all = mlpModel(2);
  await quantize(all, parseQuantizeOptions({ bits: 4, groupSize: 32, keepSensitive: false }), defaultContext);
  assert.equal(opCounts(all).MatMulNBits, 3);
});

test('weight-only int4 in standard ONNX: blocked int4 DequantizeLinear, opset raised to 21', async () => {
  const model = cnnModel(3);
  const ref = await runOrt(cnnModel(3), cnnFeeds());
  const r = await quantize(model, parseQuantizeOptions({ bits: 4, format: 'qdq', groupSize: 16, keepSensitive: false }), defaultContext);
  assert.equal(model.opset(''), 21);
  assert.equal(model.irVersion, 10);
  assert.equal(r.plan.opset?.to, 21);
  assert.equal(opCounts(model).DequantizeLinear, 3);
  const got = await runOrt(model, cnnFeeds());
  assert.ok(relDiff(got.logits!, ref.logits!) < 0.2);
});

test('dynamic int8: DynamicQuantizeLinear + MatMulInteger (and ConvInteger when --ops names Conv), one per input tensor', async () => {
  for (const [kind, raw] of [
    ['mlp', { dynamic: true }],
    ['cnn', { dynamic: true }],
    ['cnn', { dynamic: true, ops: 'Conv,Gemm' }],
  ] as const) {
    const model = kind === 'mlp' ? mlpModel(4) : cnnModel(4);
    const feeds = kind === 'mlp' ? mlpFeeds() : cnnFeeds();
    const ref = await runOrt(kind === 'mlp' ? mlpModel(4) : cnnModel(4), feeds);
    const r = await quantize(model, parseQuantizeOptions(raw), defaultContext);
    const c = opCounts(model);
    if (kind === 'mlp') {
      assert.equal(c.MatMulInteger, 3);
      assert.equal(c.DynamicQuantizeLinear, 3);
    } else if (!('ops' in raw)) {
      // by default Conv weights are int8 with float activations; the Gemm is integer
      assert.equal(c.ConvInteger, undefined);
      assert.equal(c.DequantizeLinear, 2);
      assert.equal(c.MatMulInteger, 1);
      assert.match(String(r.layers.find((l) => l.name === 'conv1')!.note), /--ops/);
    } else {
      assert.equal(c.ConvInteger, 2);
      assert.equal(c.MatMulInteger, 1);
    }
    const got = await runOrt(model, feeds);
    const d = relDiff(got.logits!, ref.logits!);
    assert.ok(d < 0.05, `${kind} ${JSON.stringify(raw)}: relative output error ${d}`);
  }
});

test('static int8 QDQ: Relu/Clip folded, Concat shares one scale, biases int32, close to float', async () => {
  for (const method of ['auto', 'minmax', 'percentile', 'entropy', 'mse'] as const) {
    const model = cnnModel(5);
    const ref = await runOrt(cnnModel(5), cnnFeeds(8, 77));
    const r = await quantize(model, parseQuantizeOptions({ calibration: method }), { ...defaultContext, data: batches('cnn', 4) });
    const c = opCounts(model);
    assert.equal(c.Relu, undefined, `${method}: Relu folded`);
    assert.equal(c.Clip, undefined, `${method}: Clip(0, 6) folded`);
    assert.ok(c.QuantizeLinear! >= 6 && c.QuantizeLinear === c.DequantizeLinear! - 3 - 3, `${method}: ${JSON.stringify(c)}`);
    // Concat's inputs and output share one scale and zero point
    const cat = model.graph.nodes.find((n) => n.opType === 'Concat')!;
    const scales = [...cat.inputs, cat.output(0)].map((v) => {
      const dq = v!.producer?.opType === 'DequantizeLinear' ? v!.producer : v!.uses.find((u) => u.node.opType === 'QuantizeLinear')!.node;
      return (dq!.input(1)!.initializer!.data as Float32Array)[0];
    });
    assert.equal(new Set(scales).size, 1, `${method}: concat scales ${scales}`);
    // biases are int32 through DequantizeLinear
    const conv = model.graph.nodes.find((n) => n.name === 'conv1')!;
    assert.equal(conv.input(2)!.producer!.input(0)!.initializer!.dataType, DataType.INT32);
    assert.ok(r.plan.activations! >= 6);
    const got = await runOrt(model, cnnFeeds(8, 77));
    const d = relDiff(got.logits!, ref.logits!);
    assert.ok(d < 0.08, `${method}: relative output error ${d}`);
    // The report: one line per QuantizeLinear, saying which range the tensor got and why, and the scale
    // and zero point written are the ones in the graph.
    const acts = r.report!.activations;
    assert.equal(acts.length, c.QuantizeLinear);
    assert.equal(r.report!.calibration.method, method === 'percentile' ? 'percentile 99.99' : method);
    assert.equal(r.report!.calibration.tensors, acts.length);
    for (const a of acts) {
      const q = model.graph.nodes.find((n) => n.opType === 'QuantizeLinear' && n.input(0)!.name === a.tensor)!;
      assert.equal((q.input(1)!.initializer!.data as Float32Array)[0], a.scale, a.tensor);
      assert.equal((q.input(2)!.initializer!.data as Uint8Array)[0], a.zeroPoint, a.tensor);
      assert.ok(a.min <= a.max && a.observed!.min <= a.min + 1e-6 && a.max <= a.observed!.max + 1e-6, JSON.stringify(a));
      if (method === 'minmax') assert.equal(a.error, undefined);
      else assert.ok(a.error! >= 0 && a.error! < 0.1, JSON.stringify(a));
      if (method === 'auto') {
        assert.ok(a.runnerUp === undefined || a.runnerUp.error >= a.error!, JSON.stringify(a));
      } else assert.equal(a.method, r.report!.calibration.method);
    }
    if (method === 'auto') {
      assert.equal(r.report!.calibration.power, 3);
      assert.equal(Object.values(r.report!.calibration.chosen!).reduce((x, y) => x + y, 0), acts.length);
    }
    // Relu and Clip folded into a Conv's output: its line says so.
    assert.ok(acts.some((a) => a.fused?.startsWith('Relu')) && acts.some((a) => a.fused?.startsWith('Clip')), JSON.stringify(acts.map((a) => a.fused)));
    // Concat's tensors share one written range, the union of their own.
    const shared = acts.filter((a) => a.shared);
    assert.ok(shared.length > 0 && shared.every((a) => a.shared!.min <= a.min && a.shared!.max >= a.max));
  }
});

test('static: calibration defaults to auto', async () => {
  const model = mlpModel(3);
  const r = await quantize(model, parseQuantizeOptions({}), { ...defaultContext, data: batches('mlp', 2) });
  assert.equal(r.report!.calibration.method, 'auto');
  assert.ok(r.report!.activations.length > 0);
});

test('fp16: float16 weights and compute, float32 inputs and outputs, half the bytes', async () => {
  const model = cnnModel(6);
  const before = serializeModel(model).length;
  const ref = await runOrt(cnnModel(6), cnnFeeds());
  const r = await quantize(model, parseQuantizeOptions({ fp16: true }), defaultContext);
  assert.ok(r.layers.every((l) => l.bits === 16));
  const after = serializeModel(model).length;
  assert.ok(after < 0.75 * before, `${after} vs ${before}`);
  // every weight is float16 now; the graph input and output are still float32
  assert.ok(model.graph.initializers.every((v) => v.initializer!.dataType !== DataType.FLOAT || v.initializer!.size <= 1));
  assert.equal(model.graph.inputs[0]!.elemType, DataType.FLOAT);
  assert.equal(model.graph.outputs[0]!.elemType, DataType.FLOAT);
  const got = await runOrt(model, cnnFeeds());
  assert.ok(got.logits instanceof Float32Array);
  assert.ok(relDiff(got.logits!, ref.logits!) < 0.01);
});

test('an already-quantized model is refused with exit code 3', async () => {
  const model = mlpModel(7);
  await quantize(model, parseQuantizeOptions({ weightOnly: true }), defaultContext);
  await assert.rejects(quantize(model, parseQuantizeOptions({ weightOnly: true }), defaultContext), (e: Error & { exitCode?: number }) => e.exitCode === 3 && /already quantized/.test(e.message) && /DequantizeLinear/.test(e.message));
});

test('dry run: plan with per-weight precision and bytes, model untouched', async () => {
  const model = mlpModel(8);
  const bytes = serializeModel(model);
  const r = await quantize(model, parseQuantizeOptions({ bits: 4, dryRun: true, exclude: '^fc2$' }), defaultContext);
  assert.equal(r.modified, false);
  assert.deepEqual(serializeModel(model), bytes);
  const byNode = Object.fromEntries(r.plan.weights.map((w) => [w.node, w]));
  assert.equal(byNode.fc1!.bits, 4);
  assert.equal(byNode.fc1!.format, 'matmulnbits');
  assert.equal(byNode.fc2!.bits, 'float');
  assert.match(byNode.fc2!.reason!, /--exclude/);
  assert.equal(byNode.head!.bits, 8);
  assert.ok(r.plan.bytes.after < r.plan.bytes.before);
});

test('MatMulNBits from Gemm folds transB, alpha and a [N] bias; a [M, N] C becomes an Add', async () => {
  const cases = [
    { transB: true, alpha: 0.5, beta: 2, fullC: false },
    { transB: false, alpha: 1, beta: 1, fullC: false },
    { transB: true, alpha: 1.5, beta: 0.5, fullC: true },
  ];
  for (const c of cases) {
    const model = gemmModel(4, 64, 24, 9, c);
    const feeds = { x: { data: randn(4 * 64, 3), dims: [4, 64] } };
    const ref = await runOrt(gemmModel(4, 64, 24, 9, c), feeds);
    await quantize(model, parseQuantizeOptions({ bits: 8, weightOnly: true, granularity: 'group', groupSize: 32 }), defaultContext);
    const counts = opCounts(model);
    assert.equal(counts.MatMulNBits, 1, JSON.stringify(c));
    assert.equal(counts.Gemm, undefined);
    assert.equal(counts.Add, c.fullC ? 1 : undefined);
    const got = await runOrt(model, feeds);
    const d = relDiff(got.y!, ref.y!);
    assert.ok(d < 0.01, `${JSON.stringify(c)}: relative output error ${d}`);
  }
});

test('weights written as Constant nodes are found and quantized; a weight read by two nodes is dequantized once', async () => {
  const model = matmulModel(32, 8, 4);
  const g = model.graph;
  // Turn W into a Constant node (as paddle2onnx writes weights) and add a second reader.
  const w = g.value('W')!;
  const t = w.initializer!;
  g.nodes[0]!.setInput(1, null);
  g.removeInitializer(w);
  const c = g.createNode({ opType: 'Constant', name: 'W_const', outputs: ['Wc'], attributes: [makeAttr('value', t)], before: g.nodes[0] });
  g.nodes.find((n) => n.name === 'mm')!.setInput(1, c.output(0));
  const mm2 = g.createNode({ opType: 'MatMul', name: 'mm2', inputs: [g.value('x')!, c.output(0)], outputs: ['y2'] });
  markOutput(g, mm2.output(0)!, ['n', 8]);
  const feeds = { x: { data: randn(3 * 32, 8), dims: [3, 32] } };
  const ref = await runOrt(model, feeds);
  const r = await quantize(model, parseQuantizeOptions({ weightOnly: true }), defaultContext);
  assert.equal(r.plan.weights.length, 1);
  assert.equal(r.plan.weights[0]!.weight, 'Wc');
  const counts = opCounts(model);
  assert.equal(counts.Constant, undefined);
  assert.equal(counts.DequantizeLinear, 1);
  assert.equal(counts.MatMul, 2);
  const got = await runOrt(model, feeds);
  assert.ok(relDiff(got.y!, ref.y!) < 0.01 && relDiff(got.y2!, ref.y2!) < 0.01);
});

test('opset 9 model: weight-only int8 raises the opset (rewriting old ops) and matches the float model', async () => {
  const model = cnnModel(10, 9);
  // Old-style Clip with attributes, as opset-9 exporters write it.
  const clip = model.graph.nodes.find((n) => n.opType === 'Clip')!;
  clip.setInput(2, null);
  clip.setInput(1, null);
  clip.trimInputs();
  clip.setAttr(makeAttr('min', 0, 'float'));
  clip.setAttr(makeAttr('max', 6, 'float'));
  model.graph.removeUnused();
  const ref = await runOrt(model, cnnFeeds());
  const r = await quantize(model, parseQuantizeOptions({ weightOnly: true }), defaultContext);
  assert.equal(model.opset(''), 13);
  assert.deepEqual(r.plan.opset?.rewrites, { Clip: 1 });
  const got = await runOrt(model, cnnFeeds());
  assert.ok(relDiff(got.logits!, ref.logits!) < 0.02);
});

test('weight-only int4 of a language model: the embedding table as an 8-bit GatherBlockQuantized, the head as an 8-bit MatMulNBits; onnxruntime and our executor agree', async () => {
  const { loadModel } = await import('../../../src/onnx/index.js');
  const { Session } = await import('../../../src/runtime/session.js');
  const { join } = await import('node:path');
  const { repoRoot } = await import('../../helpers/repo.js');
  const path = join(repoRoot(), 'fixtures/lm/model.onnx');
  const model = await loadModel(path);
  const r = await quantize(model, parseQuantizeOptions({ bits: 4 }), defaultContext);
  const counts = opCounts(model);
  assert.equal(counts.GatherBlockQuantized, 1);
  assert.equal(counts.Gather ?? 0, 0);
  const gbq = model.graph.nodes.find((n) => n.opType === 'GatherBlockQuantized')!;
  assert.equal(gbq.attrInt('bits', 0), 8);
  assert.equal(gbq.attrInt('block_size', 0), 128);
  const table = r.layers.find((l) => l.format === 'gatherblockquantized')!;
  assert.equal(table.bits, 8);
  assert.ok(table.error! > 0 && table.error! < 1e-4, `8-bit table error ${table.error}`);
  const ids = BigInt64Array.from({ length: 2 * 32 }, (_, i) => BigInt((i * 37) % 2001));
  const feeds = { input: { data: ids, dims: [2, 32] } };
  const ref = (await runOrt(await loadModel(path), feeds)).logits!;
  const got = (await runOrt(model, feeds)).logits!;
  const d = relDiff(got, ref);
  assert.ok(d < 0.1, `int4 logits against float: relative error ${d}`);
  const ours = await Session.create(model, { backend: 'wasm' });
  const mine = (await ours.run({ input: { type: 'int64', data: ids, dims: [2, 32] } })).logits!.data as Float32Array;
  ours.dispose();
  assert.ok(relDiff(mine, got) < 1e-4, `our executor runs GatherBlockQuantized as onnxruntime does (${relDiff(mine, got)})`);
});

test('a quantize that finds nothing to quantize exits 1 with one line saying why, and changes nothing', async () => {
  const { NothingToDoError } = await import('../../../src/core/errors.js');
  const model = mlpModel(2);
  const before = serializeModel(model);
  await assert.rejects(
    quantize(model, parseQuantizeOptions({ bits: 4, exclude: '.' }), defaultContext),
    (e: unknown) => e instanceof NothingToDoError && e.exitCode === 1 && /^nothing to quantize: none of the 3 MatMul\/Gemm weights can be: 3 excluded by --exclude \(2 Gemm, 1 MatMul\)$/.test(e.message) && !e.message.includes('\n'),
  );
  assert.deepEqual(serializeModel(model), before);
});

test('prepareQuantize with a spill folder: a big weight\'s codes wait on disk, and the saved model is byte for byte that of quantizing alone', async () => {
  const { loadModel, saveModel } = await import('../../../src/onnx/index.js');
  const { prepareQuantize } = await import('../../../src/passes/quantize/index.js');
  const { recordReference } = await import('../../../src/report/measure.js');
  const { join } = await import('node:path');
  const { mkdirSync, mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'compress-spill-'));
  try {
    // 512 x 640: big enough for the pool's workers (tensor/nbits-pool.ts inlineElements).
    const path = join(dir, 'mm.onnx');
    await saveModel(matmulModel(512, 640, 5), path, { externalData: { threshold: 1024 } });
    const options = parseQuantizeOptions({ bits: 4, groupSize: 32 });
    const alone = await loadModel(path);
    await quantize(alone, options, defaultContext);
    await saveModel(alone, join(dir, 'alone.onnx'), { externalData: { threshold: 1024 } });

    const model = await loadModel(path);
    const spill = join(dir, 'spill');
    mkdirSync(spill);
    const prepared = prepareQuantize(model, options, spill)!;
    const quiet = { ...defaultContext, logger: { debug() {}, info() {}, warn() {} } };
    await recordReference({ model, files: { bytes: 0, files: [] } }, { data: 'random:2', task: 'auto', batchSize: 2, seed: 1, backend: 'wasm', symbolicDim: 4 }, quiet, (v) => prepared.onWeight(v));
    await quantize(model, options, { ...defaultContext, prepared });
    const codes = model.graph.initializers.filter((v) => v.initializer!.source?.path.startsWith(spill));
    // (The only MatMul is the output head, which quantize keeps at 8 bits.)
    assert.deepEqual(codes.map((v) => v.name), ['W_Q8'], 'the codes are read from the spill folder');
    assert.equal(codes[0]!.initializer!.loaded, false, 'and are not in memory');
    assert.equal(prepared.results.size, 0, 'the pass consumed the prepared results');
    await saveModel(model, join(dir, 'spilled.onnx'), { externalData: { threshold: 1024 } });
    assert.deepEqual(readFileSync(join(dir, 'spilled.onnx.data')), readFileSync(join(dir, 'alone.onnx.data')));
    assert.deepEqual(serializeModel(model), serializeModel(alone));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('weights handed over by a streamed reference run (prepareQuantize) give the same model, byte for byte, as quantizing alone', async () => {
  const { loadModel, saveModel } = await import('../../../src/onnx/index.js');
  const { prepareQuantize } = await import('../../../src/passes/quantize/index.js');
  const { recordReference } = await import('../../../src/report/measure.js');
  const { join } = await import('node:path');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { repoRoot } = await import('../../helpers/repo.js');
  const dir = mkdtempSync(join(tmpdir(), 'compress-prepared-'));
  try {
    // The LM fixture with its weights in an external data file, as a large model would come.
    const path = join(dir, 'lm.onnx');
    await saveModel(await loadModel(join(repoRoot(), 'fixtures/lm/model.onnx')), path, { externalData: { threshold: 1024 } });
    const options = parseQuantizeOptions({ bits: 4, groupSize: 32 });
    const alone = await loadModel(path);
    await quantize(alone, options, defaultContext);

    const model = await loadModel(path);
    const prepared = prepareQuantize(model, options)!;
    assert.ok(prepared, 'weight-only block quantization can be prepared');
    let handed = 0;
    const quiet = { ...defaultContext, logger: { debug() {}, info() {}, warn() {} } };
    const recorded = await recordReference({ model, files: { bytes: 0, files: [] } }, { data: 'random:2', task: 'auto', batchSize: 2, seed: 1, backend: 'wasm', symbolicDim: 8 }, quiet, (v) => {
      handed++;
      prepared.onWeight(v);
    });
    assert.equal(recorded.outputs.length, 1);
    assert.deepEqual(recorded.outputs[0]!.dims, [2, 32, 2001]);
    assert.ok(handed >= 10, `the run handed its weights over as it finished with them (${handed})`);
    const blocked = prepared.plan.weights.filter((d) => d.format === 'matmulnbits' || d.format === 'gatherblockquantized').length;
    assert.ok(blocked >= 10);
    assert.equal(prepared.results.size, blocked, 'every block-quantized weight was quantized during the run');
    for (const v of model.graph.initializers) if (v.initializer!.source) assert.equal(v.initializer!.loaded, false, `'${v.name}' was released after the run`);
    await quantize(model, options, { ...defaultContext, prepared });
    assert.equal(prepared.results.size, 0, 'the pass consumed the prepared results');
    assert.deepEqual(serializeModel(model), serializeModel(alone));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
