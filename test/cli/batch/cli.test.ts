/**
 * Batch conversions as a user runs them (the compiled CLI in a child process): a tree of models that
 * share a file name goes to a mirrored tree below -o, each with its external data and report; one
 * broken model fails alone and sets the exit code; shards (one with --jobs 2) write byte-identical
 * models at the same paths as one run and their summaries merge; an interrupted run, rerun with
 * --skip-existing, redoes only what it had not finished.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { saveModel } from '../../../src/onnx/index.js';
import type { Summary } from '../../../src/cli/batch/summary.js';
import { lines, mainJs, repoRoot, runCli, tinyModel } from '../helpers.js';
import { tempDir } from '../../helpers/tmp.js';
import { modelFiles } from './helpers.js';

async function modelTree(): Promise<string> {
  const dir = tempDir('compress-batch-');
  for (const d of ['a', 'b', 'c/deep', 'd']) mkdirSync(join(dir, 'models', d), { recursive: true });
  await saveModel(tinyModel(), join(dir, 'models/a/model.onnx'));
  await saveModel(tinyModel(), join(dir, 'models/b/model.onnx'), { externalData: { threshold: 0 } });
  await saveModel(tinyModel(), join(dir, 'models/c/deep/model.onnx'));
  writeFileSync(join(dir, 'models/d/model.onnx'), new Uint8Array(0));
  return dir;
}

const flags = ['--dynamic', '--backend', 'wasm'];

test('a tree: mirrored outputs with their data files and reports; one broken model fails alone; shards and --jobs write the same bytes; summaries merge', async () => {
  const dir = await modelTree();
  const all = await runCli(['quantize', 'models', ...flags, '-o', 'out', '--summary', 'all.json'], { cwd: dir });
  assert.equal(all.code, 3, `the empty models/d/model.onnx is invalid (exit 3), the worst outcome: ${all.stderr}`);
  assert.match(all.stderr, /^quantize: 1 of 4 models done, 3 left$/m);
  assert.match(all.stderr, /^quantize: 4 of 4 models done, 0 left \(1 failed\)$/m);
  assert.match(all.stderr, /^ {2}failed {2}models\/d\/model\.onnx \(exit 3\)/m);
  const files = [...modelFiles(join(dir, 'out')).keys()];
  assert.deepEqual(files, ['a/model.quantize.onnx', 'b/model.quantize.onnx', 'b/model.quantize.onnx.data', 'c/deep/model.quantize.onnx']);
  for (const m of ['a', 'b', 'c/deep']) {
    const report = JSON.parse(readFileSync(join(dir, 'out', m, 'model.quantize.onnx.report.json'), 'utf8')) as Record<string, any>;
    assert.equal(report.runtime.loaded, true, `${m}: the output loads in onnxruntime beside its data file`);
    assert.equal(report.compressed.bytes, report.compressed.files.reduce((n: number, f: { bytes: number }) => n + f.bytes, 0));
    assert.ok(existsSync(join(dir, 'out', m, 'model.quantize.onnx.manifest.json')));
  }
  const b = JSON.parse(readFileSync(join(dir, 'out/b/model.quantize.onnx.report.json'), 'utf8')) as Record<string, any>;
  assert.deepEqual(b.compressed.files.map((f: { path: string }) => relative(dir, f.path)), ['out/b/model.quantize.onnx', 'out/b/model.quantize.onnx.data']);
  const summary = JSON.parse(readFileSync(join(dir, 'all.json'), 'utf8')) as Summary;
  assert.deepEqual(
    summary.rows.map((r) => [r.input, r.output, r.status, r.exitCode]),
    [
      ['models/a/model.onnx', 'out/a/model.quantize.onnx', 'ok', 0],
      ['models/b/model.onnx', 'out/b/model.quantize.onnx', 'ok', 0],
      ['models/c/deep/model.onnx', 'out/c/deep/model.quantize.onnx', 'ok', 0],
      ['models/d/model.onnx', 'out/d/model.quantize.onnx', 'failed', 3],
    ],
  );
  assert.equal(summary.exitCode, 3);
  assert.equal(summary.rows[1]!.bytes.before, statSync(join(dir, 'models/b/model.onnx')).size + statSync(join(dir, 'models/b/model.onnx.data')).size);
  assert.equal(summary.rows[1]!.bytes.after, b.compressed.bytes);
  assert.equal(summary.totals.bytesAfter, summary.rows.reduce((n, r) => n + (r.bytes.after ?? 0), 0));
  assert.match(summary.rows[3]!.error ?? '', /empty/);

  // Two shards, the first with two models at a time in worker threads: the same files, byte for byte.
  const s1 = await runCli(['quantize', 'models', ...flags, '-o', 'sharded', '--shard', '1/2', '--jobs', '2', '--summary', 's1.json'], { cwd: dir });
  const s2 = await runCli(['quantize', 'models', ...flags, '-o', 'sharded', '--shard', '2/2', '--summary', 's2.json'], { cwd: dir });
  assert.match(s1.stderr, /shard 1\/2: 2 of 4 models/);
  assert.match(s1.stderr, /2 models, 2 at a time \(worker threads\)/);
  const codes = [s1.code, s2.code].sort();
  assert.deepEqual(codes, [0, 3], `the broken model fails in its shard only: ${s1.stderr}\n${s2.stderr}`);
  assert.deepEqual(modelFiles(join(dir, 'sharded')), modelFiles(join(dir, 'out')));
  const merged = await runCli(['report', '--merge', 's1.json', 's2.json', '-o', 'merged.json'], { cwd: dir });
  assert.equal(merged.code, 3, merged.stderr);
  assert.match(merged.stderr, /^merged 2 summaries of quantize: 4 models, 3 ok, 1 failed, 0 skipped; \d+ -> \d+ bytes; exit 3; written to merged\.json$/m);
  const m = JSON.parse(readFileSync(join(dir, 'merged.json'), 'utf8')) as Summary;
  assert.deepEqual(m.rows.map((r) => [r.input, r.output, r.status]), summary.rows.map((r) => [r.input, r.output?.replace(/^out\//, 'sharded/'), r.status]));
  assert.deepEqual(m.shards, { count: 2, present: [1, 2], missing: [] });
  assert.deepEqual(m.totals, summary.totals);
  const one = await runCli(['report', '--merge', 's1.json'], { cwd: dir });
  assert.notEqual(one.code, 0);
  assert.match(one.stderr, /shard 2 of 2 missing/);
  assert.equal((JSON.parse(one.stdout) as Summary).rows.length, 2);
});

test('--shard needs i/n with 1 <= i <= n: one usage line, exit 2, nothing written', async () => {
  const dir = await modelTree();
  for (const bad of ['0/2', '3/2', 'two']) {
    const r = await runCli(['quantize', 'models', '--dynamic', '-o', 'out', '--shard', bad], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(lines(r.stderr)[0]!, /^compress: error: --shard must be i\/n with integers 1 <= i <= n/);
    assert.equal(existsSync(join(dir, 'out')), false);
  }
  // More shards than models: an empty share is a finished share.
  const r = await runCli(['quantize', 'models/a', '--dynamic', '-o', 'out', '--shard', '2/3', '--summary', 'empty.json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /shard 2\/3 has no models \(1 over 3 shards\)/);
  assert.deepEqual((JSON.parse(readFileSync(join(dir, 'empty.json'), 'utf8')) as Summary).rows, []);
  // A quoted glob of summaries that matches nothing (a shard never wrote one) is a usage error.
  const none = await runCli(['report', '--merge', 'summaries/summary-*.json'], { cwd: dir });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^compress: error: no summary file matches 'summaries\/summary-\*\.json'$/m);
});

/** Runs the CLI and kills it (SIGKILL) as soon as stderr says a first model is done. */
function runAndKill(args: string[], cwd: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [mainJs, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
      if (/1 of \d+ models done/.test(stderr)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', () => resolvePromise(stderr));
  });
}

test('an interrupted batch, rerun with --skip-existing, redoes only the models it had not finished', async () => {
  const dir = tempDir('compress-resume-');
  const root = repoRoot();
  for (const d of ['a', 'b', 'c']) {
    mkdirSync(join(dir, 'models', d), { recursive: true });
    copyFileSync(join(root, 'fixtures/mlp/model.onnx'), join(dir, 'models', d, 'model.onnx'));
  }
  // Static quantization calibrated on samples: a second or so per model, long enough to stop mid-batch.
  const args = ['quantize', 'models', '--data', join(root, 'fixtures/mlp/data/calib_x.npy'), '--samples', '64', '--backend', 'wasm', '--skip-existing'];
  const reference = await runCli([...args, '-o', 'reference'], { cwd: dir });
  assert.equal(reference.code, 0, reference.stderr);

  await runAndKill([...args, '-o', 'out'], dir);
  const complete = ['a', 'b', 'c'].filter((d) => existsSync(join(dir, 'out', d, 'model.quantize.onnx.manifest.json')));
  assert.ok(complete.length >= 1 && complete.length < 3, `killed after the first model and before the last: ${complete.length} complete`);
  const stamps = new Map(complete.map((d) => [d, statSync(join(dir, 'out', d, 'model.quantize.onnx')).mtimeMs]));

  const rerun = await runCli([...args, '-o', 'out', '--summary', 'resumed.json'], { cwd: dir });
  assert.equal(rerun.code, 0, rerun.stderr);
  const rows = (JSON.parse(readFileSync(join(dir, 'resumed.json'), 'utf8')) as Summary).rows;
  assert.deepEqual(
    rows.map((r) => [r.input, r.status]),
    ['a', 'b', 'c'].map((d) => [`models/${d}/model.onnx`, complete.includes(d) ? 'skipped' : 'ok']),
  );
  for (const d of complete) assert.equal(statSync(join(dir, 'out', d, 'model.quantize.onnx')).mtimeMs, stamps.get(d), `${d} was left alone`);
  for (const r of rows.filter((x) => x.status === 'skipped')) {
    assert.equal(r.exitCode, 0);
    assert.ok(r.bytes.after !== null && r.bytes.after > 0, 'a skipped row still carries its report numbers');
  }
  assert.deepEqual(modelFiles(join(dir, 'out')), modelFiles(join(dir, 'reference')), 'the resumed batch wrote what one uninterrupted run wrote');
  // A third run finds everything complete.
  const again = await runCli([...args, '-o', 'out'], { cwd: dir });
  assert.equal(again.code, 0);
  assert.match(again.stderr, /summary: 0 of 3 models compressed, 3 skipped \(complete\)/);
});
