import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelError, UsageError } from '../../../src/core/errors.js';
import type { Progress } from '../../../src/core/logger.js';
import { serializeModel } from '../../../src/onnx/index.js';
import { distill, DistillInterrupted, trainableTensors } from '../../../src/passes/distill/index.js';
import { tf } from '../../../src/runtime/backend.js';
import { fixture, fixtures, maxDiffToOrt, pruneHalf, trainingContext, zeroPattern } from './helpers.js';
import { testBackend } from '../../helpers/backend.js';

const mlpX = join(fixtures, 'mlp', 'data', 'train_x.npy');
const mlpY = join(fixtures, 'mlp', 'data', 'train_y.npy');
const testX = join(fixtures, 'mlp', 'data', 'test_x.npy');

test('trainable tensors: weights, biases, norm params and tables; never shape constants', async () => {
  const mlp = await fixture('mlp_student');
  assert.deepEqual(trainableTensors(mlp).map((t) => [t.name, t.op, t.params]), [
    ['net.0.weight', 'Gemm', 50176],
    ['net.0.bias', 'Gemm', 64],
    ['net.2.weight', 'Gemm', 640],
    ['net.2.bias', 'Gemm', 10],
  ]);
  const lm = await fixture('lm_student');
  const t = trainableTensors(lm);
  const floatInits = lm.graph.initializers.filter((v) => v.initializer!.dataType === 1);
  assert.equal(t.reduce((a, x) => a + x.params, 0), 310289);
  assert.equal(t.length, floatInits.length);
  assert.ok(t.some((x) => x.op === 'Gather') && t.some((x) => x.op === 'LayerNormalization') && t.some((x) => x.op === 'MatMul'));
});

test('distilling the MLP student: only the weights change, KL to the teacher falls, onnxruntime agrees', async () => {
  const teacher = await fixture('mlp');
  const student = await fixture('mlp_student');
  const before = new Map(student.graph.initializers.map((v) => [v.name, (v.initializer!.data as Float32Array).slice()]));
  const shape = student.graph.nodes.map((n) => `${n.opType}:${n.inputs.map((v) => v?.name).join(',')}`);
  const r = await distill(student, { teacher, epochs: 3, batchSize: 16, lr: 1e-2, backend: testBackend, evalData: testX, samples: 96 }, trainingContext(student, mlpX, { samples: 96 }));
  assert.equal(r.modified, true);
  assert.deepEqual(student.graph.nodes.map((n) => `${n.opType}:${n.inputs.map((v) => v?.name).join(',')}`), shape);
  for (const v of student.graph.initializers) assert.notDeepEqual(v.initializer!.data, before.get(v.name), v.name);
  const report = r.report as { metrics: { original: { kl: number }; compressed: { kl: number }; teacher: { kl: number } }; distill: { history: { loss: number }[] } };
  assert.equal(report.metrics.teacher.kl, 0);
  assert.ok(report.metrics.compressed.kl < 0.75 * report.metrics.original.kl, JSON.stringify(report.metrics));
  assert.equal(report.distill.history.length, 3);
  assert.ok(report.distill.history[1]!.loss < report.distill.history[0]!.loss);
  assert.deepEqual(r.layers.map((l) => l.name), ['net.0.weight', 'net.0.bias', 'net.2.weight', 'net.2.bias']);
  const x = new Float32Array(8 * 784).map((_, i) => ((i * 7919) % 255) / 255);
  const diff = await maxDiffToOrt(student, 'input', [8, 784], x);
  assert.ok(diff < 1e-4, `max |ours - onnxruntime| = ${diff}`);
});

test('an interrupted run resumed from its checkpoint ends with the same bytes as an uninterrupted one', async () => {
  const teacher = await fixture('mlp');
  const dir = mkdtempSync(join(tmpdir(), 'distill-resume-'));
  const opts = { teacher, epochs: 2, batchSize: 16, lr: 5e-3, alpha: 0.5, seed: 3, backend: testBackend, evalData: testX, samples: 80, checkpoint: dir };
  try {
    const a = await fixture('mlp_student');
    // tfjs memory after each step: it must not grow with the steps (it may shrink when the garbage
    // collector frees constants cached by earlier sessions).
    const counts: number[] = [];
    const watch: Progress = { start: () => ({ tick: (_d?: number, detail?: string) => void (detail !== undefined && counts.push(tf.memory().numTensors)), setTotal() {}, done() {} }) };
    await distill(a, opts, trainingContext(a, mlpX, { samples: 80, labels: mlpY, progress: watch }));
    assert.equal(counts.length, 10);
    assert.ok(Math.max(...counts.slice(1)) <= counts[0]!, `tensors per step: ${counts.join(' ')}`);
    rmSync(dir, { recursive: true, force: true });

    // Stop after 7 steps: in the middle of epoch 2 (5 steps per epoch).
    const controller = new AbortController();
    let steps = 0;
    const progress: Progress = {
      start: () => ({
        tick: (_d?: number, detail?: string) => {
          if (detail !== undefined && ++steps === 7) controller.abort();
        },
        setTotal() {},
        done() {},
      }),
    };
    const b = await fixture('mlp_student');
    await assert.rejects(distill(b, { ...opts, signal: controller.signal }, trainingContext(b, mlpX, { samples: 80, labels: mlpY, progress })), (e: Error) => e instanceof DistillInterrupted && /epoch 2, batch 3 of 5/.test(e.message));
    const c = await fixture('mlp_student');
    await distill(c, { ...opts, resume: true }, trainingContext(c, mlpX, { samples: 80, labels: mlpY }));
    assert.deepEqual(serializeModel(c), serializeModel(a));
    // Other settings: refused.
    const d = await fixture('mlp_student');
    await assert.rejects(distill(d, { ...opts, resume: true, lr: 1e-2 }, trainingContext(d, mlpX, { samples: 80, labels: mlpY })), (e: Error) => e instanceof UsageError && /lr/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a pruned student keeps every pruned weight at exactly zero', async () => {
  const teacher = await fixture('mlp');
  const student = await fixture('mlp');
  const zeroed = pruneHalf(student);
  assert.ok(zeroed > 100_000);
  const pattern = zeroPattern(student);
  const r = await distill(student, { teacher, epochs: 1, batchSize: 32, lr: 1e-3, backend: testBackend, samples: 64 }, trainingContext(student, mlpX, { samples: 64, labels: mlpY }));
  assert.deepEqual(zeroPattern(student), pattern);
  const sparse = r.layers.filter((l) => l.sparsity !== undefined);
  assert.equal(sparse.length, 3);
  for (const l of sparse) assert.ok(Math.abs(l.sparsity! - 0.5) < 0.01, `${l.name}: ${l.sparsity}`);
  // The surviving weights did train.
  const w = student.graph.value('net.0.weight')!.initializer!.data as Float32Array;
  const orig = (await fixture('mlp')).graph.value('net.0.weight')!.initializer!.data as Float32Array;
  let moved = 0;
  for (let i = 0; i < w.length; i++) if (w[i] !== 0 && w[i] !== orig[i]) moved++;
  assert.ok(moved > 0.4 * w.length, `${moved} weights moved`);
});

test('hidden pairs of different widths go through a learned projection', async () => {
  const teacher = await fixture('mlp');
  const student = await fixture('mlp_student');
  const hidden = [{ teacher: '/net/net.3/Relu_output_0', student: '/net/net.1/Relu_output_0' }];
  const r = await distill(student, { teacher, epochs: 1, batchSize: 32, backend: testBackend, hidden, samples: 64 }, trainingContext(student, mlpX, { samples: 64 }));
  const history = (r.report.distill as { history: { loss: number }[] }).history;
  assert.ok(Number.isFinite(history[0]!.loss) && history[0]!.loss > 0);
  // The projection is not part of the student.
  assert.equal(student.graph.initializers.length, 4);
  await assert.rejects(distill(await fixture('mlp_student'), { teacher, hidden: [{ teacher: 'nope', student: 'logits' }] }, trainingContext(student, mlpX)), UsageError);
});

test('one LM step: per-token loss with the next tokens as labels, the embedding moves', async () => {
  const teacher = await fixture('lm');
  const student = await fixture('lm_student');
  const emb = (student.graph.initializers.find((v) => v.uses.some((u) => u.node.opType === 'Gather'))!.initializer!.data as Float32Array).slice();
  const r = await distill(student, { teacher, epochs: 1, batchSize: 8, backend: testBackend, samples: 8 }, trainingContext(student, join(fixtures, 'lm', 'data', 'train_x.npy'), { samples: 8 }));
  const d = r.report.distill as { task: string; alpha: number; steps: number };
  assert.deepEqual([d.task, d.alpha, d.steps], ['lm', 0.7, 1]);
  const after = student.graph.initializers.find((v) => v.uses.some((u) => u.node.opType === 'Gather'))!.initializer!.data as Float32Array;
  assert.notDeepEqual(after, emb);
});

test('teacher and student must share inputs and outputs; training needs data', async () => {
  const teacher = await fixture('lm');
  const student = await fixture('mlp_student');
  await assert.rejects(distill(student, { teacher }, trainingContext(student, mlpX)), ModelError);
  await assert.rejects(distill(student, { teacher: await fixture('mlp') }, { logger: trainingContext(student, mlpX).logger, progress: trainingContext(student, mlpX).progress }), /--data/);
  await assert.rejects(distill(student, {}, trainingContext(student, mlpX)), /teacher/);
  const plan = await distill(student, { teacher: await fixture('mlp'), dryRun: true }, trainingContext(student, mlpX));
  assert.equal(plan.modified, false);
  assert.equal(plan.plan!.params, 50890);
});

test('a CNN student trains on wasm: Conv and BatchNorm parameters move, running statistics do not', async () => {
  const teacher = await fixture('cnn');
  const student = await fixture('cnn');
  // Perturb the student so that it has something to learn from its teacher.
  const before = new Map(student.graph.initializers.map((v) => [v.name, (v.initializer!.data as Float32Array).map((x, i) => x * (1 + 0.2 * Math.sin(i)))]));
  for (const v of student.graph.initializers) (v.initializer!.data as Float32Array).set(before.get(v.name)!);
  const r = await distill(student, { teacher, epochs: 1, batchSize: 16, lr: 1e-3, backend: testBackend, samples: 32 }, trainingContext(student, join(fixtures, 'cnn', 'data', 'train_x.npy'), { samples: 32, labels: join(fixtures, 'cnn', 'data', 'train_y.npy') }));
  const trained = new Set(r.layers.map((l) => l.name));
  assert.ok(r.layers.filter((l) => l.op === 'Conv').length >= 4);
  const bn = student.graph.nodes.find((n) => n.opType === 'BatchNormalization')!;
  assert.ok(trained.has(bn.inputs[1]!.name) && trained.has(bn.inputs[2]!.name));
  assert.ok(!trained.has(bn.inputs[3]!.name) && !trained.has(bn.inputs[4]!.name));
  for (const v of student.graph.initializers) {
    const changed = (v.initializer!.data as Float32Array).some((x, i) => x !== before.get(v.name)![i]);
    assert.equal(changed, trained.has(v.name), v.name);
  }
  const x = new Float32Array(2 * 784).map((_, i) => ((i * 7919) % 255) / 255);
  const diff = await maxDiffToOrt(student, 'input', [2, 1, 28, 28], x);
  assert.ok(diff < 1e-3, `max |ours - onnxruntime| = ${diff}`);
});
