/**
 * `compress report` with two models: size ratio, op-count differences, gates with their exit codes,
 * -o with the format taken from the extension, and the measured report with --data (accuracy, fidelity,
 * onnxruntime latency, data gates, a compressed model onnxruntime cannot load).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataType } from '../../src/core/dtype.js';
import { Tensor } from '../../src/ir/index.js';
import { saveModel } from '../../src/onnx/index.js';
import { lines, repoRoot, runCli, tinyModel } from './helpers.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let a: string;
let b: string;

before(async () => {
  dir = tempDir('compress-report-');
  a = join(dir, 'a.onnx');
  b = join(dir, 'b.onnx');
  await saveModel(tinyModel(), a);
  const m = tinyModel();
  const w = m.graph.value('W1')!;
  const q = m.graph.addInitializer('W1_q', new Tensor(DataType.INT8, [16, 8], new Int8Array(128).fill(3)));
  const s = m.graph.addInitializer('W1_scale', Tensor.float32([], [0.5]));
  const dq = m.graph.createNode({ opType: 'DequantizeLinear', inputs: [q, s], outputs: ['W1_dq'] });
  for (const u of [...w.uses]) u.node.setInput(u.index, dq.output(0));
  m.graph.removeInitializer(w);
  await saveModel(m, b);
});

test('two models: both summaries, sizeRatio, op-count difference', async () => {
  const r = await runCli(['report', a, b, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, any>;
  assert.equal(j.original.bytes, statSync(a).size);
  assert.equal(j.compressed.bytes, statSync(b).size);
  assert.equal(j.sizeRatio, statSync(b).size / statSync(a).size);
  assert.deepEqual(j.opCountsDiff, { DequantizeLinear: 1 });
  assert.equal(j.original.params, 168);
  assert.equal(j.compressed.params, 168);
  assert.equal(j.compressed.bitsPerWeight, (128 * 8 + 32 + 40 * 32) / 168);
  assert.equal(j.compressed.sparsity, 8 / 168, 'only the zero bias: no int8 weight equals its zero point 0');
});

test('gates: a failing --min-ratio exits 1 after printing the report; --max-size passes', async () => {
  const fail = await runCli(['report', a, b, '--min-ratio', '100', '--max-size', '10MB']);
  assert.equal(fail.code, 1);
  assert.match(fail.stdout, /^ {2}min-ratio +100 +[\d.]+ +FAIL$/m);
  assert.match(fail.stdout, /^ {2}max-size +10000000 +[\d,]+ +pass$/m);
  assert.deepEqual(lines(fail.stderr).length, 1);
  assert.match(fail.stderr, /^compress: gate failed: min-ratio: [\d.]+ \(limit 100\)$/m);
  const pass = await runCli(['report', a, b, '--min-ratio', '1.1']);
  assert.equal(pass.code, 0, pass.stderr);
  const one = await runCli(['report', a, '--min-ratio', '2']);
  assert.equal(one.code, 2);
  assert.match(one.stderr, /--min-ratio compares two models/);
  const bad = await runCli(['report', a, '--max-size', 'ten']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--max-size must be a size in bytes/);
});

test('-o writes the report in the format of its extension; the models are never overwritten', async () => {
  const out = join(dir, 'r.md');
  const r = await runCli(['report', a, b, '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(readFileSync(out, 'utf8'), /^# report: /);
  const same = await runCli(['report', a, '-o', a]);
  assert.equal(same.code, 2);
  assert.equal(statSync(a).size > 0, true);
});

test('--data: accuracy, fidelity and onnxruntime latency of a model against itself; data gates pass', async () => {
  const root = repoRoot();
  const m = join(root, 'fixtures/mlp/model.onnx');
  const args = ['--data', join(root, 'fixtures/mlp/data/test_x.npy'), '--labels', join(root, 'fixtures/mlp/data/test_y.npy')];
  const r = await runCli(['report', m, m, ...args, '--max-accuracy-drop', '0', '--min-agreement', '1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, any>;
  assert.deepEqual(j.metrics.original, { accuracy: 0.89 });
  assert.deepEqual(j.metrics.compressed, { accuracy: 0.89 });
  assert.equal(j.metrics.measured, true);
  assert.equal(j.metrics.samples, 1000);
  assert.deepEqual(j.fidelity, { top1Agreement: 1, kl: 0, cosine: 1, maxAbsDiff: 0, sqnrDb: 300 });
  assert.equal(j.runtime.name, 'onnxruntime-node');
  assert.equal(j.runtime.loaded, true);
  assert.ok(j.runtime.latencyMs.original.p50 > 0 && j.runtime.latencyMs.compressed.p95 >= j.runtime.latencyMs.compressed.p50);
  assert.deepEqual(
    j.gates.map((g: any) => [g.name, g.value, g.pass]),
    [
      ['max-accuracy-drop', 0, true],
      ['min-agreement', 1, true],
    ],
  );
  const table = await runCli(['report', m, m, ...args, '--samples', '100']);
  assert.equal(table.code, 0, table.stderr);
  assert.doesNotMatch(table.stdout, /\x1b\[/, 'no colour codes when not a TTY');
  assert.match(table.stdout, /^ {2}top-1 agreement +100\.00%$/m);
  assert.match(table.stdout, /^ {2}latency p50 \(ms\) +[\d.]+ +[\d.]+$/m);
});

test('a quantized MLP: a too-strict agreement gate exits 1 and names itself; the perplexity gate on the LM passes', async () => {
  const root = repoRoot();
  const m = join(root, 'fixtures/mlp/model.onnx');
  const q = join(dir, 'mlp.q.onnx');
  const x = join(root, 'fixtures/mlp/data/test_x.npy');
  const y = join(root, 'fixtures/mlp/data/test_y.npy');
  const made = await runCli(['quantize', m, '-o', q, '--no-report', '--quiet']);
  assert.equal(made.code, 0, made.stderr);
  const r = await runCli(['report', m, q, '--data', x, '--labels', y, '--min-agreement', '1', '--max-size', '1MB', '--json']);
  assert.equal(r.code, 1);
  const j = JSON.parse(r.stdout) as Record<string, any>;
  assert.ok(j.fidelity.top1Agreement > 0.95 && j.fidelity.top1Agreement < 1, String(j.fidelity.top1Agreement));
  assert.ok(j.fidelity.sqnrDb > 20 && j.fidelity.sqnrDb < 100, String(j.fidelity.sqnrDb));
  assert.equal(Math.abs(j.metrics.original.accuracy - j.metrics.compressed.accuracy) < 0.02, true);
  assert.deepEqual(lines(r.stderr).filter((l) => l.startsWith('compress: gate failed')), [`compress: gate failed: min-agreement: ${j.fidelity.top1Agreement} (limit 1)`]);

  const lm = join(root, 'fixtures/lm/model.onnx');
  const p = await runCli(['report', lm, lm, '--data', join(root, 'fixtures/lm/data/test_x.npy'), '--samples', '16', '--max-perplexity-increase', '0', '--json']);
  assert.equal(p.code, 0, p.stderr);
  const pj = JSON.parse(p.stdout) as Record<string, any>;
  assert.equal(pj.metrics.task, 'lm');
  assert.equal(pj.metrics.original.perplexity, pj.metrics.compressed.perplexity);
  assert.deepEqual(pj.gates, [{ name: 'max-perplexity-increase', limit: 0, value: 0, pass: true }]);
});

test('a compressed model onnxruntime cannot load: runtime.loaded false, exit 1 with the reason', async () => {
  const { unloadableModel } = await import('../report/helpers.js');
  const odd = join(dir, 'odd.onnx');
  await saveModel(unloadableModel(), odd);
  const r = await runCli(['report', a, odd, '--data', 'random:4', '--json']);
  assert.equal(r.code, 1);
  const j = JSON.parse(r.stdout) as Record<string, any>;
  assert.equal(j.runtime.loaded, false);
  assert.match(j.runtime.error, /Mystery/);
  assert.equal(j.passed, false);
  assert.match(r.stderr, /^compress: error: onnxruntime-node 1\.\d+\.\d+ cannot load the compressed model '.*odd\.onnx': .*Mystery/m);
});

test('without data: sizes and structure, and the plain statement that accuracy was not measured', async () => {
  const r = await runCli(['report', a, b]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^accuracy was not measured: no --data was given/m);
  const gated = await runCli(['report', a, b, '--min-agreement', '0.9']);
  assert.equal(gated.code, 2);
  assert.match(gated.stderr, /--min-agreement needs measurements: give evaluation samples with --data/);
});

test('one command compresses and gates: quantize --data --labels measures after compressing; data gates need --data', async () => {
  const root = repoRoot();
  const m = join(root, 'fixtures/mlp/model.onnx');
  const x = join(root, 'fixtures/mlp/data/test_x.npy');
  const y = join(root, 'fixtures/mlp/data/test_y.npy');
  const out = join(dir, 'one.onnx');
  const r = await runCli(['quantize', m, '-o', out, '--data', x, '--labels', y, '--samples', '500', '--max-accuracy-drop', '5', '--min-agreement', '0.9', '--min-ratio', '3', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, any>;
  assert.equal(j.metrics.measured, true);
  assert.equal(j.metrics.samples, 500);
  assert.ok(j.metrics.original.accuracy > 0.85 && j.metrics.compressed.accuracy > 0.85);
  assert.ok(j.fidelity.top1Agreement > 0.95);
  assert.equal(j.runtime.loaded, true);
  assert.deepEqual(j.gates.map((g: any) => [g.name, g.pass]), [['min-ratio', true], ['max-accuracy-drop', true], ['min-agreement', true]]);
  assert.equal(j.gates[0].value, j.original.bytes / j.compressed.bytes);
  assert.deepEqual(JSON.parse(readFileSync(`${out}.report.json`, 'utf8')).gates, j.gates);
  assert.match(r.stderr, /^quantize: measured on 500 samples: accuracy [\d.]+% -> [\d.]+%, top-1 agreement [\d.]+%/m);

  const noData = await runCli(['quantize', m, '-o', join(dir, 'nd.onnx'), '--max-accuracy-drop', '1']);
  assert.equal(noData.code, 2);
  assert.match(noData.stderr, /--max-accuracy-drop needs measurements: give evaluation samples with --data/);

  const dry = await runCli(['quantize', m, '-o', join(dir, 'dry.onnx'), '--dry-run', '--max-size', '1000', '--json']);
  assert.equal(dry.code, 1);
  assert.match(dry.stderr, /^compress: gate failed: max-size: \d+ \(limit 1000\)$/m);
});
