/**
 * `compress run`: recipe validation before any work (exit 2, nothing written), a two-step recipe on
 * fixtures/mlp end to end (the final report compares with the original, gates apply to the end result),
 * recipe paths relative to the recipe file, JSON recipes, globs, and several models with --jobs 2 in
 * worker threads (a failing model gives the worst exit code; the others are still written).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Chalk } from 'chalk';
import { ExitCode, UsageError } from '../../src/core/errors.js';
import { runCompress } from '../../src/cli/commands/pipeline.js';
import { loadPass } from '../../src/cli/commands/registry.js';
import { checkSteps } from '../../src/passes/run/index.js';
import { parseCommonOptions } from '../../src/cli/options.js';
import type { CliState } from '../../src/cli/program.js';
import { camelCase, recipeSteps } from '../../src/cli/commands/run.js';
import { expandInputs } from '../../src/cli/batch/inputs.js';
import { saveModel } from '../../src/onnx/index.js';
import { repoRoot, runCli, tinyModel } from './helpers.js';
import { tempDir } from '../helpers/tmp.js';

const root = repoRoot();
const mlp = join(root, 'fixtures/mlp/model.onnx');
const mlpData = join(root, 'fixtures/mlp/data');

function tmp(): string {
  return tempDir('compress-run-');
}

function usage(pattern: RegExp): (e: Error) => boolean {
  return (e) => e instanceof UsageError && pattern.test(e.message);
}

test('recipe checks: unknown key, unknown step, bad value, switch, shape, with the step named', () => {
  const r = '/x/recipe.yaml';
  assert.throws(() => recipeSteps({ steps: [{ quantize: { bits: 8 } }, { prune: { sparsty: 0.5 } }] }, r, mlp), usage(/^step 2 \(prune\): unknown option 'sparsty'$/));
  assert.throws(() => recipeSteps({ steps: [{ prunee: {} }] }, r, mlp), usage(/^step 1: unknown step 'prunee'$/));
  assert.throws(() => recipeSteps({ steps: [{ quantize: { bits: 3 } }] }, r, mlp), usage(/^step 1 \(quantize\): --bits must be one of 8, 4 \(got 3\)$/));
  assert.throws(() => recipeSteps({ steps: [{ quantize: { 'weight-only': 'yes' } }] }, r, mlp), usage(/^step 1 \(quantize\): option 'weight-only' is a switch/));
  assert.throws(() => recipeSteps({ steps: [{ prune: { method: 'wanda' } }] }, r, mlp), usage(/^step 1 \(prune\): --method wanda .* needs --data$/));
  assert.throws(() => recipeSteps({ steps: [{ prune: { 'bias-correction': true } }] }, r, mlp), usage(/^step 1 \(prune\): --bias-correction works with --method wanda or sparsegpt/));
  assert.throws(() => recipeSteps({ steps: [{ prune: {}, quantize: {} }] }, r, mlp), usage(/^step 1: a step is one mapping/));
  assert.throws(() => recipeSteps({ step: [] }, r, mlp), usage(/unknown key 'step'/));
  assert.throws(() => recipeSteps({ steps: [{ quantize: { output: 'x.onnx' } }] }, r, mlp), usage(/^step 1 \(quantize\): unknown option 'output'$/), 'outputs belong to the run');
  assert.throws(() => recipeSteps({ steps: [{ svd: { data: 'missing.npy' } }] }, r, mlp), usage(/^step 1 \(svd\): --data '\/x\/missing.npy' does not exist$/), 'paths are relative to the recipe');
});

test('recipe steps: kebab- or camelCase, --no- switches, paths relative to the recipe, distill teacher', () => {
  assert.equal(camelCase('group-size'), 'groupSize');
  const dir = join(root, 'fixtures/mlp');
  const steps = recipeSteps(
    {
      steps: [
        { prune: { sparsity: 0.5, 'no-keep-sensitive': true } },
        { distill: { data: 'data/train_x.npy', labels: 'data/train_y.npy', epochs: 2, teacher: 'model.onnx' } },
        { quantize: { bits: 4, groupSize: 32, ops: ['MatMul', 'Gemm'] } },
      ],
    },
    join(dir, 'recipe.yaml'),
    mlp,
  );
  assert.deepEqual(steps[0]!.options, { batchSize: 32, sparsity: 0.5, keepSensitive: false });
  assert.equal(steps[1]!.data!.data, join(dir, 'data/train_x.npy'));
  assert.equal(steps[1]!.data!.labels, join(dir, 'data/train_y.npy'));
  assert.equal(steps[1]!.teacher, join(dir, 'model.onnx'));
  assert.equal(steps[1]!.options.epochs, 2);
  assert.equal('studentPath' in steps[1]!.options, false);
  assert.deepEqual(steps[2]!.options, { batchSize: 32, bits: 4, groupSize: 32, ops: ['MatMul', 'Gemm'] });
  const data = join(dir, 'data/calib_x.npy');
  const [off, on] = [{ 'no-bias-correction': true }, { 'bias-correction': true }].map((o) => recipeSteps({ steps: [{ prune: { method: 'sparsegpt', data, ...o } }] }, join(dir, 'recipe.yaml'), mlp)[0]!);
  assert.equal(off!.options.biasCorrection, false);
  assert.equal(on!.options.biasCorrection, true);
  assert.equal('biasCorrection' in recipeSteps({ steps: [{ prune: { method: 'wanda', data } }] }, join(dir, 'recipe.yaml'), mlp)[0]!.options, false, 'unset: the method decides');
});

test("a step whose pass this build lacks fails the check with the registry's line", async () => {
  const dir = tmp();
  const missing = new URL(`file://${join(dir, 'passes', 'gptq', 'index.js')}`);
  const options = { steps: [{ name: 'quantize' as const, options: { bits: 8 } }, { name: 'gptq' as const, options: {} }], seed: 0, backend: 'auto', dryRun: false };
  await assert.rejects(
    checkSteps(options, async (name) => (name === 'gptq' ? loadPass(name, missing) : loadPass(name))),
    (e: Error) => e.message === 'step 2 (gptq): compress gptq: this command is not available in this build',
  );
});

test('globs expand per path segment, sorted; a pattern matching nothing is a usage error', () => {
  const dir = tmp();
  mkdirSync(join(dir, 'm1'));
  mkdirSync(join(dir, 'm2'));
  for (const f of ['m1/a.onnx', 'm2/b.onnx', 'm2/c.txt', 'm2/.hidden.onnx']) writeFileSync(join(dir, f), '');
  const expand = (args: string[]) => expandInputs(args, { command: 'run' }).files;
  assert.deepEqual(expand([join(dir, 'm?/*.onnx')]), [join(dir, 'm1/a.onnx'), join(dir, 'm2/b.onnx')]);
  assert.deepEqual(expand(['plain.onnx']), ['plain.onnx']);
  assert.throws(() => expand([join(dir, '*/*.pt')]), usage(/no model file matches/));
});

test('compress run: a bad step exits 2 before any work, nothing written', async () => {
  const dir = tmp();
  writeFileSync(join(dir, 'bad.yaml'), 'steps:\n  - quantize: { bits: 8, weight-only: true }\n  - prune: { sparsty: 0.5 }\n');
  const out = join(dir, 'out.onnx');
  const r = await runCli(['run', join(dir, 'bad.yaml'), mlp, '-o', out]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /compress: error: step 2 \(prune\): unknown option 'sparsty'\nhint: did you mean 'sparsity'\?/);
  assert.deepEqual(readdirSync(dir), ['bad.yaml']);
});

test('compress run: prune then static quantize on fixtures/mlp; report vs the original; gates on the end result', async () => {
  const dir = tmp();
  // The calibration file sits beside the recipe and is named relative to it.
  copyFileSync(join(mlpData, 'calib_x.npy'), join(dir, 'calib.npy'));
  writeFileSync(join(dir, 'recipe.json'), JSON.stringify({ steps: [{ prune: { sparsity: 0.5, 'keep-sensitive': false } }, { quantize: { bits: 8, data: 'calib.npy', samples: 64 } }] }));
  const out = join(dir, 'out.onnx');
  const eval_ = ['--data', join(mlpData, 'test_x.npy'), '--labels', join(mlpData, 'test_y.npy'), '--samples', '300'];
  const r = await runCli(['run', join(dir, 'recipe.json'), mlp, '-o', out, ...eval_, '--max-accuracy-drop', '5']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(readFileSync(`${out}.report.json`, 'utf8')) as Record<string, any>;
  assert.equal(report.command, 'run');
  assert.equal(report.original.bytes, 941410, 'the original model, not an intermediate');
  assert.equal(report.original.params, 235146);
  assert.ok(report.compressed.bytes < 0.3 * 941410, `int8 weights: ${report.compressed.bytes} bytes`);
  assert.equal(report.steps.length, 2);
  assert.deepEqual(report.steps.map((s: { name: string }) => s.name), ['prune', 'quantize']);
  assert.equal(report.steps[0].before.bytes, 941410);
  assert.ok(Math.abs(report.steps[0].after.sparsity - 0.5) < 0.01, `sparsity after prune ${report.steps[0].after.sparsity}`);
  assert.deepEqual(report.steps[1].before, report.steps[0].after);
  assert.equal(report.steps[1].data, join(dir, 'calib.npy'));
  assert.ok(report.compressed.opCounts.QuantizeLinear > 0, 'static quantization put Q/DQ on activations');
  assert.equal(report.metrics.original.accuracy > 0.85, true);
  assert.ok(report.metrics.original.accuracy - report.metrics.compressed.accuracy < 0.05);
  assert.deepEqual(report.gates.map((g: { name: string; pass: boolean }) => [g.name, g.pass]), [['max-accuracy-drop', true]]);

  // The gates judge the end result against the original: a 10x ratio is out of reach for int8.
  const gated = await runCli(['run', join(dir, 'recipe.json'), mlp, '-o', out, '--force', '--min-ratio', '10']);
  assert.equal(gated.code, 1, gated.stderr);
  assert.match(gated.stderr, /gate failed: min-ratio/);
});

test('compress run --jobs 2: several models in worker threads; a failing one gives the worst exit code', async () => {
  const dir = tmp();
  await saveModel(tinyModel(), join(dir, 'a.onnx'));
  await saveModel(tinyModel(), join(dir, 'b.onnx'));
  writeFileSync(join(dir, 'c.onnx'), new Uint8Array([1, 2, 3]));
  writeFileSync(join(dir, 'r.yaml'), 'steps:\n  - quantize: { bits: 8, weight-only: true, granularity: tensor }\n');
  const outDir = join(dir, 'out');
  const r = await runCli(['run', join(dir, 'r.yaml'), join(dir, '*.onnx'), '-o', outDir, '--jobs', '2', '--json']);
  assert.equal(r.code, 3, `the unreadable c.onnx is an invalid model (exit 3), the worst: ${r.stderr}`);
  assert.match(r.stderr, /3 models, 2 at a time \(worker threads\)/);
  assert.match(r.stderr, /summary: 2 of 3 models compressed/);
  const json = JSON.parse(r.stdout) as { results: { input: string; exitCode: number; report: Record<string, any> | null }[] };
  assert.deepEqual(json.results.map((x) => [x.input.slice(dir.length + 1), x.exitCode]), [['a.onnx', 0], ['b.onnx', 0], ['c.onnx', 3]]);
  for (const f of ['a', 'b']) {
    assert.ok(existsSync(join(outDir, `${f}.run.onnx`)));
    const report = JSON.parse(readFileSync(join(outDir, `${f}.run.onnx.report.json`), 'utf8')) as Record<string, any>;
    // W1 [16, 8] and W2 [8, 4] become int8 with one float scale and one int8 zero point each.
    assert.equal(report.steps[0].after.params, 168);
    assert.ok(report.compressed.bytesByDataType.INT8 >= 160, JSON.stringify(report.compressed.bytesByDataType));
  }
  assert.equal(existsSync(join(outDir, 'c.run.onnx')), false);
});

test('any subcommand with jobs 2: quantize on two fixtures in worker threads writes the same bytes as in turn', async () => {
  const dir = tmp();
  copyFileSync(mlp, join(dir, 'mlp.onnx'));
  copyFileSync(join(root, 'fixtures/mlp_student/model.onnx'), join(dir, 'student.onnx'));
  const inputs = [join(dir, 'mlp.onnx'), join(dir, 'student.onnx')];
  const err: string[] = [];
  const state: CliState = { term: { out() {}, err: (s) => void err.push(s), color: new Chalk({ level: 0 }), interactive: false, stderr: process.stderr }, exitCode: 0, verbose: false };
  const options = { weightOnly: true, seed: 0, backend: 'auto', batchSize: 32, dryRun: false };
  const compress = (out: string, jobs: number) => runCompress(state, { command: 'quantize', inputs, common: parseCommonOptions({ output: join(dir, out) }), options, jobs });
  assert.equal(await compress('par', 2), ExitCode.ok, err.join(''));
  assert.match(err.join(''), /quantize: 2 models, 2 at a time \(worker threads\)/);
  assert.equal(await compress('seq', 1), ExitCode.ok, err.join(''));
  for (const f of ['mlp.quantize.onnx', 'student.quantize.onnx']) {
    const par = readFileSync(join(dir, 'par', f));
    assert.ok(par.byteLength > 1000);
    assert.deepEqual(par, readFileSync(join(dir, 'seq', f)), `${f}: a worker thread writes what the main thread writes`);
  }
});
