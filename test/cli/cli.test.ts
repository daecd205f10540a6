/**
 * The `compress` command as users meet it: --help's weight and content, --version, `report --json` on a
 * fixture, and bad inputs (each: the documented exit code, one error line, nothing written).
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadModel, saveModel, serializeModel } from '../../src/onnx/index.js';
import { lines, repoRoot, runCli, tinyModel } from './helpers.js';
import { tempDir } from '../helpers/tmp.js';

const commands = ['quantize', 'gptq', 'prune', 'svd', 'distill', 'run', 'report'];

test('--help loads none of the heavy modules (protobuf, TensorFlow.js, onnxruntime) and lists every subcommand', async () => {
  // Which modules a run resolves, recorded by a loader hook (timing it would measure the machine's load).
  const dir = tempDir('compress-help-');
  const log = join(dir, 'resolved.txt');
  const hook = join(dir, 'hook.mjs');
  writeFileSync(hook, `import { appendFileSync } from 'node:fs';\nexport async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; }\n`);
  const register = join(dir, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hook).href)});\n`);
  const r = await runCli(['--help'], { env: { NODE_OPTIONS: `--import=${pathToFileURL(register).href}` } });
  assert.equal(r.code, 0, r.stderr);
  const resolved = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '');
  assert.ok(resolved.some((u) => u.includes('commander')), 'the hook saw the modules --help needs');
  for (const heavy of ['protobufjs', '@tensorflow', 'onnxruntime-node', 'onnx-proto', 'cli-progress']) {
    assert.ok(!resolved.some((u) => u.includes(`/node_modules/${heavy}`)), `--help loaded ${heavy}`);
  }
  const runs = [r];
  const out = runs[0]!.stdout;
  for (const c of commands) assert.match(out, new RegExp(`^  ${c} `, 'm'), `--help lists ${c}`);
  assert.match(out, /Exit codes: 0 success/);
});

test('every flag of every subcommand documents its default in --help', async () => {
  const { buildProgram } = await import('../../src/cli/program.js');
  const { processTerminal } = await import('../../src/cli/ui/terminal.js');
  const program = buildProgram({ term: processTerminal(), exitCode: 0, verbose: false });
  assert.deepEqual(program.commands.map((c) => c.name()).filter((n) => n !== 'help'), commands);
  for (const cmd of program.commands) {
    for (const o of cmd.options) {
      if (o.long === '--help' || o.long === '--no-report') continue;
      const shown = o.defaultValue !== undefined || /\(default: |\(required\)/.test(o.description);
      assert.ok(shown, `compress ${cmd.name()} ${o.flags} shows no default`);
    }
  }
  const r = await runCli(['quantize', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--bits <n> +weight precision: 8 \| 4[^]*?\(default: 8\)/);
  assert.match(r.stdout, /--percentile <p>[^]*?\(default: 99\.99\)/);
  const g = await runCli(['gptq', '--help']);
  assert.match(g.stdout, /--damp <x>[^]*?\(default: 0\.01\)/);
});

test('--version prints the package version', async () => {
  const r = await runCli(['--version']);
  const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string };
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('report fixtures/mlp/model.onnx --json: bytes, params and op counts of the file', async () => {
  const path = join('fixtures', 'mlp', 'model.onnx');
  const r = await runCli(['report', path, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const report = JSON.parse(r.stdout) as Record<string, any>;
  assert.equal(report.schema, 1);
  assert.equal(report.command, 'report');
  assert.deepEqual(report.gates, []);
  assert.equal(report.passed, true);
  assert.equal(report.metrics.measured, false);
  assert.equal(report.original.bytes, statSync(join(repoRoot(), path)).size);
  const model = await loadModel(join(repoRoot(), path));
  const expectedParams = model.graph.initializers.reduce((s, v) => s + v.initializer!.size, 0);
  assert.equal(report.original.params, expectedParams);
  const expectedOps: Record<string, number> = {};
  for (const n of model.graph.nodes) expectedOps[n.opType] = (expectedOps[n.opType] ?? 0) + 1;
  assert.deepEqual(report.original.opCounts, expectedOps);
  assert.equal(report.original.bitsPerWeight, 32);
});

test('report of one model in table form says accuracy was not measured', async () => {
  const r = await runCli(['report', join('fixtures', 'mlp', 'model.onnx')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^  params\s+[\d,]+$/m);
  assert.match(r.stdout, /^op types/m);
  assert.match(r.stdout, /^largest tensors/m);
  assert.match(r.stdout, /accuracy was not measured/);
});

describe('bad inputs: exit code, one error line, nothing written', { concurrency: 4 }, () => {
  let dir: string;
  let good: string;
  before(async () => {
    dir = tempDir('compress-cli-');
    good = join(dir, 'good.onnx');
    await saveModel(tinyModel(), good);
    const bytes = serializeModel(tinyModel());
    writeFileSync(join(dir, 'empty.onnx'), new Uint8Array(0));
    writeFileSync(join(dir, 'truncated.onnx'), bytes.subarray(0, Math.floor(bytes.length / 2)));
    writeFileSync(join(dir, 'text.onnx'), 'this is a text file, not an ONNX model\n');
    mkdirSync(join(dir, 'folder.onnx'));
    // External data: one model whose data file is gone, one whose location leaves its folder.
    const extDir = join(dir, 'ext');
    mkdirSync(extDir);
    await saveModel(tinyModel(), join(extDir, 'missing.onnx'), { externalData: { threshold: 0, location: 'AAAAAAAA.data' } });
    unlinkSync(join(extDir, 'AAAAAAAA.data'));
    await saveModel(tinyModel(), join(extDir, 'escape.onnx'), { externalData: { threshold: 0, location: 'BBBBBBBB.data' } });
    // Same-length byte patch of the location string keeps the protobuf valid.
    const escape = readFileSync(join(extDir, 'escape.onnx'));
    const patched = Buffer.from(escape.toString('latin1').split('BBBBBBBB.data').join('../xxxxx.data'), 'latin1');
    assert.equal(patched.length, escape.length);
    assert.notDeepEqual(patched, escape);
    writeFileSync(join(extDir, 'escape.onnx'), patched);
  });

  const cases: { name: string; args: (d: string) => string[]; code: number; message: RegExp; exactlyOne?: boolean }[] = [
    { name: 'an empty file', args: (d) => ['report', join(d, 'empty.onnx'), '-o', join(d, 'out.txt')], code: 3, message: /empty/ },
    { name: 'a truncated model', args: (d) => ['report', join(d, 'truncated.onnx'), '-o', join(d, 'out.txt')], code: 3, message: /truncated\.onnx/ },
    { name: 'a text file', args: (d) => ['report', join(d, 'text.onnx'), '-o', join(d, 'out.txt')], code: 3, message: /text\.onnx/ },
    { name: 'a missing external-data file', args: (d) => ['report', join(d, 'ext', 'missing.onnx'), '-o', join(d, 'out.txt')], code: 3, message: /AAAAAAAA\.data/ },
    { name: 'a path-traversal location', args: (d) => ['report', join(d, 'ext', 'escape.onnx'), '-o', join(d, 'out.txt')], code: 3, message: /outside the model's folder/ },
    { name: 'a folder without models', args: (d) => ['quantize', join(d, 'folder.onnx')], code: 2, message: /no \.onnx model below the folder/ },
    { name: 'an unknown flag', args: (d) => ['quantize', join(d, 'good.onnx'), '--bogus'], code: 2, message: /unknown option '--bogus'/, exactlyOne: true },
    { name: 'a bad flag value (--bits 5)', args: (d) => ['quantize', join(d, 'good.onnx'), '--bits', '5'], code: 2, message: /--bits must be one of 8, 4 \(got '5'\)/, exactlyOne: true },
    { name: 'a missing file', args: (d) => ['quantize', join(d, 'nope.onnx')], code: 2, message: /nope\.onnx' does not exist/ },
    { name: 'a missing --data file', args: (d) => ['gptq', join(d, 'good.onnx'), '--data', join(d, 'calib.npy')], code: 2, message: /--data '.*calib\.npy' does not exist/ },
    { name: 'conflicting flags', args: (d) => ['quantize', join(d, 'good.onnx'), '--dynamic', '--weight-only'], code: 2, message: /--weight-only and --dynamic/ },
    { name: 'an unknown command', args: () => ['squash', 'x.onnx'], code: 2, message: /unknown command 'squash'/ },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const before = readdirSync(dir).sort();
      const r = await runCli(c.args(dir));
      assert.equal(r.code, c.code, `exit code; stderr: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const errLines = lines(r.stderr);
      assert.ok(errLines.length >= 1 && errLines.length <= 2, `one error line (+ hint), got:\n${r.stderr}`);
      assert.match(errLines[0]!, /^compress: error: /);
      assert.match(errLines[0]!, c.message);
      if (errLines[1] !== undefined) assert.match(errLines[1], /^hint: /);
      if (c.exactlyOne) assert.equal(errLines.length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --verbose');
      assert.deepEqual(readdirSync(dir).sort(), before, 'nothing written');
    });
  }
});
