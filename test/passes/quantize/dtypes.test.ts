/**
 * quantize on float16 and bfloat16 models (fixtures/dtypes): every mode keeps the model's float type
 * (scales, biases, outputs), the result runs in onnxruntime (float16) or in compress's executor
 * (bfloat16), and its quality is that of the float32 fixture quantized the same way. A model with nothing
 * to quantize, or already float16 for --fp16, fails with one line (NothingToDoError).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { NothingToDoError } from '../../../src/core/errors.js';
import { defaultContext } from '../../../src/core/logger.js';
import { makeAttr } from '../../../src/ir/attribute.js';
import { Graph, Model, Tensor } from '../../../src/ir/index.js';
import type { Node } from '../../../src/ir/node.js';
import { floatTensor } from '../../../src/ir/weights.js';
import { loadModel } from '../../../src/onnx/index.js';
import { parseQuantizeOptions, quantize } from '../../../src/passes/quantize/index.js';
import { dtypeFixture, feedBatches, fixtureData, fixturePath, floatTensorTypes, outputsOf, runnerFor } from '../../helpers/dtypes.js';
import { accuracy, perplexity, relDiff } from '../../helpers/metrics.js';
import { rows } from '../../helpers/data.js';
import { opCounts } from './helpers.js';

const mlpTest = rows(fixtureData('mlp', 'test_x'), 0, 500);
const mlpLabels = fixtureData('mlp', 'test_y').data.subarray(0, 500) as BigInt64Array;
const mlpCalib = fixtureData('mlp', 'calib_x');
const cnnTest = rows(fixtureData('cnn', 'test_x'), 0, 300);
const cnnLabels = fixtureData('cnn', 'test_y').data.subarray(0, 300) as BigInt64Array;
const cnnCalib = fixtureData('cnn', 'calib_x');
const lmTest = rows(fixtureData('lm', 'test_x'), 0, 48);

/** The scale input type of every (De)QuantizeLinear, by op and domain. */
function scaleTypes(model: Model): Record<string, string[]> {
  const out: Record<string, Set<string>> = {};
  for (const n of model.graph.nodes) {
    if (n.opType !== 'QuantizeLinear' && n.opType !== 'DequantizeLinear' && n.opType !== 'MatMulNBits') continue;
    const s = n.input(n.opType === 'MatMulNBits' ? 2 : 1)!.initializer;
    const key = `${n.domain ? `${n.domain}.` : ''}${n.opType}`;
    (out[key] ??= new Set()).add(s ? String(s.dataType) : 'computed');
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v].sort()]));
}

const F16 = String(DataType.FLOAT16);
const BF16 = String(DataType.BFLOAT16);
const F32 = String(DataType.FLOAT);

/** Accuracy of a classifier model on the first rows of a fixture's test set, in the runner its type needs. */
async function accuracyOf(model: Model, x: typeof mlpTest, labels: BigInt64Array): Promise<number> {
  const o = await outputsOf(model, x, runnerFor(model));
  return accuracy(o.data, o.dims[1]!, labels);
}

test('weight-only on float16 and bfloat16: scales and outputs in the model type, opset 19, bytes at 2 per weight and scale', async (t) => {
  for (const [name, type] of [['mlp_fp16', F16], ['mlp_bf16', BF16]] as const) {
    const model = await loadModel(dtypeFixture(name));
    const before = await accuracyOf(model, mlpTest, mlpLabels);
    const r = await quantize(model, parseQuantizeOptions({ weightOnly: true, bits: 8 }), defaultContext);
    assert.deepEqual(scaleTypes(model), { DequantizeLinear: [type] }, name);
    assert.equal(model.opset(''), 19, `${name}: DequantizeLinear-19 takes ${name.endsWith('bf16') ? 'bfloat16' : 'float16'} scales`);
    assert.equal(model.graph.outputs[0]!.elemType, Number(type), `${name}: the output stays in the model's type`);
    // 235,146 weights at 2 bytes before; after: one int8 per weight, a 2-byte scale per output channel.
    assert.equal(r.plan.bytes.before, 2 * (784 * 256 + 256 * 128 + 128 * 10));
    assert.equal(r.plan.bytes.after, 784 * 256 + 256 * 128 + 128 * 10 + 2 * (256 + 128 + 10));
    for (const l of r.layers) assert.equal(l.dataType, name.endsWith('bf16') ? 'bfloat16' : 'float16');
    const after = await accuracyOf(model, mlpTest, mlpLabels);
    t.diagnostic(`${name} weight-only int8: accuracy on 500 test images ${before} -> ${after}`);
    assert.ok(Math.abs(after - before) <= 0.006, `${name}: accuracy ${before} -> ${after}`);
  }
  // 4-bit MatMulNBits plan of a float16 decoder (blocks.0/q: K = N = 128, blocks of 32): packed codes,
  // a 16-bit scale per block, and (asymmetric by default) a 4-bit zero point per block.
  const lm = await loadModel(dtypeFixture('lm_fp16'));
  const plan = (await quantize(lm, parseQuantizeOptions({ bits: 4, groupSize: 32, dryRun: true }), defaultContext)).plan;
  const q = plan.weights.find((d) => d.node === '/blocks.0/q/MatMul')!;
  assert.deepEqual([q.format, q.bytes.before, q.bytes.after], ['matmulnbits', 2 * 128 * 128, (128 * 128) / 2 + 2 * 128 * 4 + (128 * 4) / 2]);
});

test('static QDQ on float16 and bfloat16: weight scales in the model type, float32 Q/DQ pairs between Casts, accuracy as the float32 path', async (t) => {
  const cases = [
    { name: 'mlp_fp16', base: 'mlp', x: mlpTest, labels: mlpLabels, calib: mlpCalib, type: F16 },
    { name: 'cnn_fp16', base: 'cnn', x: cnnTest, labels: cnnLabels, calib: cnnCalib, type: F16 },
    { name: 'cnn_bf16', base: 'cnn', x: cnnTest, labels: cnnLabels, calib: cnnCalib, type: BF16 },
  ];
  const float32: Record<string, number> = {};
  for (const c of cases) {
    if (float32[c.base] === undefined) {
      const m = await loadModel(fixturePath(c.base, 'model.onnx'));
      await quantize(m, parseQuantizeOptions({ samples: 128 }), { ...defaultContext, data: feedBatches(m, c.calib, 32, 128) });
      float32[c.base] = await accuracyOf(m, c.x, c.labels);
    }
    const model = await loadModel(dtypeFixture(c.name));
    const original = await accuracyOf(model, c.x, c.labels);
    const r = await quantize(model, parseQuantizeOptions({ samples: 128 }), { ...defaultContext, data: feedBatches(model, c.calib, 32, 128) });
    assert.equal(r.plan.mode, 'static');
    assert.equal(model.opset(''), c.name === 'cnn_bf16' ? 22 : 19, `${c.name}: DequantizeLinear-19 takes float16 / bfloat16 scales`);
    // Weights: int8 with scales of the model's type; activations: float32 pairs between Casts.
    assert.deepEqual(scaleTypes(model), { DequantizeLinear: [F32, c.type].sort(), QuantizeLinear: [F32] }, c.name);
    for (const n of model.graph.nodes.filter((k: Node) => k.opType === 'DequantizeLinear')) {
      const weight = n.input(0)!.initializer?.dataType === DataType.INT8;
      assert.equal(String(n.input(1)!.initializer!.dataType), weight ? c.type : F32, n.name);
    }
    const a = r.plan.activations!;
    assert.ok(a >= 3, `${c.name}: ${a} activations quantized`);
    assert.equal(model.graph.nodes.filter((n: Node) => n.opType === 'Cast').length, 2 * a, 'a Cast before and after each pair');
    // Biases stay float16 / bfloat16 (no int8 kernel runs behind the pairs to use an int32 one).
    assert.equal(model.graph.nodes.filter((n: Node) => n.opType === 'DequantizeLinear' && n.input(0)!.initializer?.dataType === DataType.INT32).length, 0);
    assert.equal(model.graph.outputs[0]!.elemType, Number(c.type));
    const acc = await accuracyOf(model, c.x, c.labels);
    t.diagnostic(`${c.name} static: accuracy ${original} -> ${acc} (the float32 fixture quantized the same way: ${float32[c.base]})`);
    assert.ok(Math.abs(acc - float32[c.base]!) <= 0.01, `${c.name}: accuracy ${acc}, the float32 fixture quantized the same way ${float32[c.base]}`);
    assert.ok(acc >= original - 0.02, `${c.name}: accuracy ${original} -> ${acc}`);
  }
});

/**
 * A float16 model at opset 9 that also holds an Upsample (which changed meaning at opset 10, so the opset
 * cannot be raised): x [n, 8] -> MatMul(W) -> Relu -> y, and a constant z -> Upsample -> u (float32).
 */
function oldFloat16Model(): Model {
  const g = new Graph('old');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT16, shape: ['n', 8] });
  const z = g.addInitializer('z', Tensor.float32([1, 1, 2, 2], [1, 2, 3, 4]));
  const w = g.addInitializer('W', floatTensor(DataType.FLOAT16, [8, 4], Float32Array.from({ length: 32 }, (_, i) => Math.sin(i + 1) * 0.5)));
  const scales = g.addInitializer('scales', Tensor.float32([4], [1, 1, 2, 2]));
  const mm = g.createNode({ opType: 'MatMul', name: 'mm', inputs: [x, w], outputs: ['h'] });
  const relu = g.createNode({ opType: 'Relu', name: 'relu', inputs: [mm.output(0)], outputs: ['y'] });
  const up = g.createNode({ opType: 'Upsample', name: 'up', inputs: [z, scales], outputs: ['u'], attributes: [makeAttr('mode', 'nearest')] });
  const y = relu.output(0)!;
  y.type = { kind: 'tensor', elemType: DataType.FLOAT16, shape: ['n', 4] };
  const u = up.output(0)!;
  u.type = { kind: 'tensor', elemType: DataType.FLOAT, shape: [1, 1, 4, 4] };
  g.outputs.push(y, u);
  return new Model(g, 7, [{ domain: '', version: 9 }]);
}

test('static on a float16 model whose opset cannot be raised: com.microsoft weights with float16 scales, float32 Q/DQ between Casts', async () => {
  const x = Float32Array.from({ length: 16 * 8 }, (_, i) => Math.cos(i * 0.37));
  const input = { dataType: DataType.FLOAT, shape: [16, 8], data: x };
  const ref = await outputsOf(oldFloat16Model(), input, 'onnxruntime', 16);
  const model = oldFloat16Model();
  const r = await quantize(model, parseQuantizeOptions({}), { ...defaultContext, data: feedBatches(model, input, 16) });
  assert.equal(model.opset(''), 9, 'the opset stays');
  assert.equal(r.plan.weights[0]!.format, 'com.microsoft.dequantizelinear', 'DequantizeLinear-19 (float16 scales) is out of reach');
  assert.deepEqual(scaleTypes(model), { 'com.microsoft.DequantizeLinear': [F32, F16], 'com.microsoft.QuantizeLinear': [F32] });
  const weightDq = model.graph.nodes.find((n) => n.opType === 'DequantizeLinear' && n.input(0)!.name === 'W_quantized')!;
  assert.equal(weightDq.input(1)!.initializer!.dataType, DataType.FLOAT16, 'the weight scale is float16 (com.microsoft takes it)');
  // Each quantized activation: Cast to float32, QuantizeLinear, DequantizeLinear, Cast back.
  const casts = model.graph.nodes.filter((n) => n.opType === 'Cast');
  assert.equal(casts.length, 2 * r.plan.activations!);
  assert.deepEqual([...new Set(casts.map((c) => c.attrInt('to')))].sort(), [DataType.FLOAT, DataType.FLOAT16]);
  const got = await outputsOf(model, input, 'onnxruntime', 16);
  assert.ok(relDiff(got.data, ref.data) < 0.05, `relative difference ${relDiff(got.data, ref.data)}`);
});

test('dynamic on float16 and bfloat16: Cast to float32 before DynamicQuantizeLinear and back after, quality as the float32 path', async (t) => {
  // The classifier (Gemm with bias, the bias added in float16).
  const m32 = await loadModel(fixturePath('mlp', 'model.onnx'));
  await quantize(m32, parseQuantizeOptions({ dynamic: true }), defaultContext);
  const acc32 = await accuracyOf(m32, mlpTest, mlpLabels);
  const mlp = await loadModel(dtypeFixture('mlp_fp16'));
  await quantize(mlp, parseQuantizeOptions({ dynamic: true }), defaultContext);
  const c = opCounts(mlp);
  assert.equal(c.MatMulInteger, 3);
  assert.equal(c.DynamicQuantizeLinear, 3);
  // One Cast to float32 before each DynamicQuantizeLinear, the int32 product's Cast, one back to float16.
  assert.equal(c.Cast, 9);
  const back = mlp.graph.nodes.filter((n) => n.opType === 'Cast' && n.attrInt('to') === DataType.FLOAT16);
  assert.equal(back.length, 3);
  for (const n of mlp.graph.nodes.filter((k) => k.opType === 'Add')) {
    const b = n.inputs.find((v) => v?.initializer)!;
    assert.equal(b.initializer!.dataType, DataType.FLOAT16, `${n.name}: the bias is added in float16`);
  }
  const acc = await accuracyOf(mlp, mlpTest, mlpLabels);
  t.diagnostic(`mlp dynamic: accuracy float16 ${acc}, float32 ${acc32}`);
  assert.ok(Math.abs(acc - acc32) <= 0.006, `float16 ${acc}, float32 ${acc32}`);

  // The decoder (MatMul, the embedding table as DequantizeLinear with a float16 / bfloat16 scale).
  const ids = lmTest;
  const lm32 = await loadModel(fixturePath('lm', 'model.onnx'));
  await quantize(lm32, parseQuantizeOptions({ dynamic: true }), defaultContext);
  const o32 = await outputsOf(lm32, ids, 'onnxruntime', 16);
  const ppl32 = perplexity(o32.data, o32.dims, ids.data as BigInt64Array);
  for (const name of ['lm_fp16', 'lm_bf16']) {
    const lm = await loadModel(dtypeFixture(name));
    await quantize(lm, parseQuantizeOptions({ dynamic: true }), defaultContext);
    assert.equal(opCounts(lm).MatMulInteger, 13, `${name}: every MatMul of the blocks, and the head`);
    assert.equal(lm.graph.outputs[0]!.elemType, name === 'lm_fp16' ? DataType.FLOAT16 : DataType.BFLOAT16);
    const o = await outputsOf(lm, ids, runnerFor(lm), 16);
    const ppl = perplexity(o.data, o.dims, ids.data as BigInt64Array);
    t.diagnostic(`lm dynamic: perplexity on 48 test rows ${name} ${ppl.toFixed(3)}, float32 ${ppl32.toFixed(3)}`);
    assert.ok(Math.abs(ppl / ppl32 - 1) < 0.01, `${name}: perplexity ${ppl}, the float32 fixture's ${ppl32}`);
  }
});

test('--fp16: a float16 model has nothing to convert; a bfloat16 model becomes float16 end to end', async () => {
  const f16 = await loadModel(dtypeFixture('mlp_fp16'));
  await assert.rejects(quantize(f16, parseQuantizeOptions({ fp16: true }), defaultContext), (e: Error) => e instanceof NothingToDoError && /^nothing to convert to float16: the model has no float32 or bfloat16 tensor \(its 6 float initializers are float16 already\)$/.test(e.message));
  const ref = await accuracyOf(f16, mlpTest, mlpLabels);

  const bf = await loadModel(dtypeFixture('mlp_bf16'));
  const r = await quantize(bf, parseQuantizeOptions({ fp16: true, keepIoTypes: false }), defaultContext);
  assert.deepEqual(floatTensorTypes(bf), { FLOAT16: 6 });
  assert.equal(bf.graph.inputs[0]!.elemType, DataType.FLOAT16);
  assert.equal(bf.graph.outputs[0]!.elemType, DataType.FLOAT16);
  for (const l of r.layers) assert.deepEqual([l.bits, l.dataType, l.format], [16, 'bfloat16', 'float16']);
  assert.equal(r.plan.bytes.before, r.plan.bytes.after, 'bfloat16 and float16 both take 2 bytes');
  // Now onnxruntime runs it, and it is the float16 fixture up to bfloat16's coarser rounding.
  const acc = await accuracyOf(bf, mlpTest, mlpLabels);
  assert.ok(Math.abs(acc - ref) <= 0.01, `bfloat16 -> float16 ${acc}, the float16 fixture ${ref}`);

  // With the input and output types kept (the default), Casts from and to bfloat16 are at the edges.
  const kept = await loadModel(dtypeFixture('mlp_bf16'));
  await quantize(kept, parseQuantizeOptions({ fp16: true }), defaultContext);
  assert.equal(kept.graph.inputs[0]!.elemType, DataType.BFLOAT16);
  assert.equal(kept.graph.outputs[0]!.elemType, DataType.BFLOAT16);
  assert.deepEqual(floatTensorTypes(kept), { FLOAT16: 6 });
  assert.equal(opCounts(kept).Cast, 2);
});

test('nothing to quantize in any mode: one line with the reason; weights left alone are skipped in the layers', async () => {
  for (const mode of [{ weightOnly: true }, { dynamic: true }, { static: true }]) {
    const model = await loadModel(dtypeFixture('mlp_fp16'));
    const ctx = { ...defaultContext, data: feedBatches(model, mlpCalib, 32, 32) };
    await assert.rejects(
      quantize(model, parseQuantizeOptions({ ...mode, exclude: 'net' }), ctx),
      (e: Error) => e instanceof NothingToDoError && e.message === 'nothing to quantize: none of the 3 Gemm weights can be: 3 excluded by --exclude (Gemm)',
      JSON.stringify(mode),
    );
  }
  const lm = await loadModel(dtypeFixture('lm_fp16'));
  const r = await quantize(lm, parseQuantizeOptions({ bits: 4, exclude: 'fc' }), defaultContext);
  const skipped = r.layers.filter((l) => l.skipped);
  assert.deepEqual(skipped.map((l) => l.name), ['/blocks.0/fc1/MatMul', '/blocks.0/fc2/MatMul', '/blocks.1/fc1/MatMul', '/blocks.1/fc2/MatMul']);
  for (const l of skipped) assert.deepEqual([l.bits, l.dataType, l.format], [16, 'float16', 'float'], l.name);
  const head = r.layers.find((l) => l.name === '/head/MatMul')!;
  assert.equal(head.skipped, undefined, 'the head is quantized (at 8 bits), not skipped');
  assert.match(String(head.note), /output head kept at 8 bits/);
});
