/**
 * The compressing commands' common flow, run in-process with a stand-in pass: output naming, --force,
 * never the input, several models (one failure does not stop the others, exit = worst, summary),
 * --dry-run, --json, and the "not available in this build" answer of a missing pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Chalk } from 'chalk';
import { ExitCode, UsageError } from '../../src/core/errors.js';
import { defaultContext } from '../../src/core/logger.js';
import type { Model } from '../../src/ir/model.js';
import { defaultOutputName, planOutput, runCompress } from '../../src/cli/commands/pipeline.js';
import { loadPass, type LoadedPass } from '../../src/cli/commands/registry.js';
import { CliLineError } from '../../src/cli/errors.js';
import { parseCommonOptions } from '../../src/cli/options.js';
import type { CliState } from '../../src/cli/program.js';
import type { Terminal } from '../../src/cli/ui/terminal.js';
import { describeError } from '../../src/cli/sink.js';
import { saveModel } from '../../src/onnx/index.js';
import { tinyModel } from './helpers.js';
import { tempDir } from '../helpers/tmp.js';

function capture(): { state: CliState; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const term: Terminal = { out: (s) => void out.push(s), err: (s) => void err.push(s), color: new Chalk({ level: 0 }), interactive: false, stderr: process.stderr };
  return { state: { term, exitCode: 0, verbose: false }, out, err };
}

/** A stand-in pass: zeroes the first half of W1 (so the sparsity visibly changes). */
const zeroPass: LoadedPass = {
  name: 'prune',
  run: (model: Model) => {
    const w = model.graph.value('W1')!.initializer!.data as Float32Array;
    w.fill(0, 0, w.length / 2);
    return { model };
  },
};

async function setup(): Promise<string> {
  const dir = tempDir('compress-pipeline-');
  await saveModel(tinyModel(), join(dir, 'a.onnx'));
  await saveModel(tinyModel(), join(dir, 'b.onnx'));
  writeFileSync(join(dir, 'c.onnx'), new Uint8Array(0));
  return dir;
}

test('default output names replace the extension with .<command>.onnx', () => {
  assert.equal(defaultOutputName('/x/model.onnx', 'quantize'), 'model.quantize.onnx');
  assert.equal(defaultOutputName('net', 'svd'), 'net.svd.onnx');
  assert.equal(defaultOutputName('a.b.onnx', 'prune'), 'a.b.prune.onnx');
});

test('planOutput: beside the input, -o file or folder, never the input, --force for existing files', async () => {
  const dir = await setup();
  const a = join(dir, 'a.onnx');
  const common = parseCommonOptions({});
  assert.deepEqual(planOutput('prune', a, common, false), { input: a, output: join(dir, 'a.prune.onnx'), reportPath: join(dir, 'a.prune.onnx.report.json') });
  assert.equal(planOutput('prune', a, { ...common, output: dir }, false).output, join(dir, 'a.prune.onnx'));
  assert.equal(planOutput('prune', a, { ...common, output: join(dir, 'out') }, true).output, join(dir, 'out', 'a.prune.onnx'));
  assert.equal(planOutput('prune', a, { ...common, report: false }, false).reportPath, undefined);
  assert.throws(() => planOutput('prune', a, { ...common, output: a }, false), (e: Error) => e instanceof UsageError && /never overwrites its input/.test(e.message));
  assert.throws(() => planOutput('prune', a, { ...common, output: join(dir, 'b.onnx') }, false), (e: Error) => e instanceof UsageError && /already exists/.test(e.message));
  assert.equal(planOutput('prune', a, { ...common, output: join(dir, 'b.onnx'), force: true }, false).output, join(dir, 'b.onnx'));
  assert.throws(() => planOutput('prune', join(dir, 'zz.onnx'), common, false), /does not exist/);
});

test('several models: each in turn, one failure does not stop the others, exit = worst, summary', async () => {
  const dir = await setup();
  const { state, err, out } = capture();
  const inputs = ['a.onnx', 'c.onnx', 'b.onnx'].map((f) => join(dir, f));
  const code = await runCompress(state, { command: 'prune', inputs, common: parseCommonOptions({ json: true }), options: {}, loadPass: async () => zeroPass });
  assert.equal(code, ExitCode.model, 'the empty c.onnx is an invalid model (3), the worst outcome');
  for (const f of ['a', 'b']) {
    assert.ok(statSync(join(dir, `${f}.prune.onnx`)).size > 0);
    const report = JSON.parse(readFileSync(join(dir, `${f}.prune.onnx.report.json`), 'utf8')) as Record<string, any>;
    assert.equal(report.command, 'prune');
    assert.equal(report.original.params, 16 * 8 + 8 + 8 * 4);
    assert.equal(report.original.sparsity, 16 / 168, 'the zero first row of W1 and the zero bias');
    assert.equal(report.compressed.sparsity, 72 / 168, 'half of W1 and the bias');
    assert.equal(report.compressed.bytes, statSync(join(dir, `${f}.prune.onnx`)).size);
    assert.equal(report.sizeRatio, report.compressed.bytes / report.original.bytes);
  }
  assert.equal(existsSync(join(dir, 'c.prune.onnx')), false);
  const text = err.join('');
  assert.match(text, /^compress: error: .*c\.onnx.*empty/m);
  assert.match(text, /^summary: 2 of 3 models compressed$/m);
  assert.match(text, /^ {2}failed {2}.*c\.onnx \(exit 3\)/m);
  const json = JSON.parse(out.join('')) as { results: { exitCode: number }[] };
  assert.deepEqual(json.results.map((r) => r.exitCode), [0, 3, 0]);
});

test('one model: an existing output needs --force; --dry-run writes nothing', async () => {
  const dir = await setup();
  const a = join(dir, 'a.onnx');
  const { state, err } = capture();
  assert.equal(await runCompress(state, { command: 'prune', inputs: [a], common: parseCommonOptions({}), options: {}, loadPass: async () => zeroPass }), 0);
  const first = statSync(join(dir, 'a.prune.onnx')).mtimeMs;
  await assert.rejects(
    runCompress(state, { command: 'prune', inputs: [a], common: parseCommonOptions({}), options: {}, loadPass: async () => zeroPass }),
    (e: Error) => e instanceof UsageError && /already exists/.test(e.message),
  );
  assert.equal(await runCompress(state, { command: 'prune', inputs: [a], common: parseCommonOptions({ force: true }), options: {}, loadPass: async () => zeroPass }), 0);
  const dry = capture();
  const out = join(dir, 'dry.onnx');
  assert.equal(await runCompress(dry.state, { command: 'prune', inputs: [a], common: parseCommonOptions({ dryRun: true, output: out }), options: {}, loadPass: async () => zeroPass }), 0);
  assert.equal(existsSync(out), false);
  assert.equal(existsSync(`${out}.report.json`), false);
  assert.match(dry.err.join(''), /dry run, nothing written/);
  assert.match(dry.err.join(''), /expected bytes: \d+/);
  assert.ok(first > 0 && err.join('').includes('a.prune.onnx'));
});

test('a pass this build lacks: exit 1, one line, no output', async () => {
  const dir = await setup();
  const missing = new URL(`file://${join(dir, 'passes', 'gptq', 'index.js')}`);
  await assert.rejects(loadPass('gptq', missing), (e: Error) => e instanceof CliLineError && e.exitCode === 1 && e.message === 'compress gptq: this command is not available in this build');
  // A module that exists but does not export the function is not the pass either.
  const noFn = join(dir, 'nofn.mjs');
  writeFileSync(noFn, 'export const other = 1;\n');
  await assert.rejects(loadPass('svd', new URL(`file://${noFn}`)), /compress svd: this command is not available in this build/);
  // A pass that fails to load for another reason is an internal error, not "unavailable".
  const broken = join(dir, 'broken.mjs');
  writeFileSync(broken, "import 'no-such-package-anywhere';\nexport function prune() {}\n");
  await assert.rejects(loadPass('prune', new URL(`file://${broken}`)), (e: Error) => !(e instanceof CliLineError));
  const { state } = capture();
  await assert.rejects(
    runCompress(state, { command: 'gptq', inputs: [join(dir, 'a.onnx')], common: parseCommonOptions({}), options: {}, loadPass: (n) => loadPass(n, missing) }),
    (e: Error) => describeError(e, false).lines.join('\n') === 'compress gptq: this command is not available in this build' && describeError(e, false).exitCode === 1,
  );
  assert.equal(existsSync(join(dir, 'a.gptq.onnx')), false);
});

test('the error sink: one line per error, hints, internal errors exit 1 with the stack only when verbose', () => {
  const usage = describeError(new UsageError('--bits must be one of 8, 4 (got 5)', 'see --help'), false);
  assert.deepEqual(usage, { lines: ['compress: error: --bits must be one of 8, 4 (got 5)', 'hint: see --help'], exitCode: 2 });
  const internal = describeError(new TypeError('x is undefined\nsecond line'), false);
  assert.equal(internal.exitCode, 1);
  assert.equal(internal.lines[0], 'compress: error: internal error: x is undefined second line');
  assert.equal(internal.lines.length, 2);
  assert.doesNotMatch(internal.lines.join('\n'), /\n\s+at /);
  const verbose = describeError(new TypeError('boom'), true);
  assert.match(verbose.lines.join('\n'), /TypeError: boom\n\s+at /);
});

test('without --data the output is run in onnxruntime on random samples: fidelity reported, with a warning', async () => {
  const dir = await setup();
  const { state, err } = capture();
  const a = join(dir, 'a.onnx');
  assert.equal(await runCompress(state, { command: 'prune', inputs: [a], common: parseCommonOptions({}), options: {}, loadPass: async () => zeroPass }), 0);
  const report = JSON.parse(readFileSync(join(dir, 'a.prune.onnx.report.json'), 'utf8'));
  assert.equal(report.runtime.loaded, true);
  assert.ok(report.fidelity.sqnrDb < 300, 'half of W1 zeroed must change the outputs');
  assert.ok(report.fidelity.cosine > -1 && report.fidelity.cosine < 1);
  assert.ok(report.warnings.some((w: string) => /random samples only/.test(w)));
  assert.equal(report.metrics.measured, false);
  assert.match(err.join(''), /random samples only/);
});

test('an output that onnxruntime cannot load fails the command (exit 1), writes nothing and keeps what the user had', async () => {
  const dir = await setup();
  const { state, err } = capture();
  const a = join(dir, 'a.onnx');
  const before = readFileSync(a);
  const broken: LoadedPass = {
    name: 'prune',
    run: (model: Model) => {
      // An op no runtime knows: onnxruntime refuses to load the model.
      const g = model.graph;
      const out = g.outputs[0]!;
      const n = g.createNode({ opType: 'NoSuchOp', domain: 'example.invalid', inputs: [out], outputs: ['bogus'] });
      g.outputs[0] = n.output(0)!;
      model.setOpset('example.invalid', 1);
      return { model };
    },
  };
  assert.equal(await runCompress(state, { command: 'prune', inputs: [a], common: parseCommonOptions({}), options: {}, loadPass: async () => broken }), ExitCode.failure);
  assert.match(err.join(''), /cannot load or run the compressed model, so nothing was written to '.*a\.prune\.onnx'/);
  // Checked in its staging folder before it was renamed into place: no output, no report, no leftovers.
  assert.equal(existsSync(join(dir, 'a.prune.onnx')), false);
  assert.equal(existsSync(join(dir, 'a.prune.onnx.report.json')), false);
  assert.deepEqual(readdirSync(dir).sort(), ['a.onnx', 'b.onnx', 'c.onnx']);
  assert.deepEqual(readFileSync(a), before, 'the input is untouched');
});

test('the check of a large original streams it through our executor on fewer, shorter samples and says so; a bfloat16 output runs in our executor', async () => {
  const { checkPlan } = await import('../../src/cli/commands/pipeline.js');
  const model = tinyModel();
  const input = { model, files: { bytes: 0, files: [] } };
  const small = await checkPlan(input, input);
  assert.deepEqual(small, { reference: 'onnxruntime', compressedRunner: 'onnxruntime', samples: 4 });
  const large = await checkPlan(input, input, 100);
  assert.equal(large.reference, 'executor');
  assert.equal(large.compressedRunner, 'onnxruntime');
  assert.equal(large.samples, 2);
  assert.equal(large.symbolicDim, 8);
  assert.match(large.reduced!, /run in compress's executor with its weights streamed, on 2 samples of 8 per free axis/);
  const { DataType } = await import('../../src/core/dtype.js');
  const bf16 = tinyModel();
  for (const v of bf16.graph.initializers) {
    const t = v.initializer!;
    const { encodeFloat, weightView } = await import('../../src/ir/weights.js');
    const values = weightView(t);
    t.dataType = DataType.BFLOAT16;
    t.data = encodeFloat(DataType.BFLOAT16, values);
  }
  const plan = await checkPlan(input, { model: bf16, files: { bytes: 0, files: [] } });
  assert.equal(plan.compressedRunner, 'executor');
  assert.match(plan.reduced!, /bfloat16 output was run in compress's executor/);
});

test('measure with the executor as reference: the same fidelity figures as with onnxruntime, within float rounding', async () => {
  const { measure } = await import('../../src/report/measure.js');
  const dir = await setup();
  const a = join(dir, 'a.onnx');
  const { loadModel } = await import('../../src/onnx/index.js');
  const { bytesOnDisk } = await import('../../src/report/size.js');
  const original = { model: await loadModel(a), files: bytesOnDisk(a) };
  const opts = { data: 'random:8', task: 'auto' as const, batchSize: 4, seed: 3, latency: false as const };
  const quiet = { ...defaultContext, logger: { debug() {}, info() {}, warn() {} } };
  const viaOrt = await measure(original, original, opts, quiet);
  const viaOurs = await measure(original, original, { ...opts, reference: 'executor' }, quiet);
  assert.ok(viaOrt.fidelity!.sqnrDb! > 100, 'a model against itself in onnxruntime is exact');
  assert.ok(viaOurs.fidelity!.sqnrDb! > 60, `our executor as the reference agrees with onnxruntime (${viaOurs.fidelity!.sqnrDb} dB)`);
  assert.equal(viaOurs.fidelity!.top1Agreement, 1);
});
