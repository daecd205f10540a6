/**
 * docs/ci.md's CI job, run exactly as written: the ```sh ci-test block is extracted and run by bash on
 * fixtures/mlp with `compress` on the PATH (a shim to the compiled CLI). Passing gates exit 0; a
 * deliberately too-strict size gate stops the job at step 1 with exit 1, a too-strict agreement gate at
 * step 2.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mainJs, repoRoot } from '../cli/helpers.js';
import { tempDir } from '../helpers/tmp.js';

let block: string;
let work: string;
let bin: string;

/** The body of the first fenced block whose info string is `sh ci-test`. */
function ciBlock(markdown: string): string {
  const m = /^```sh ci-test\n([\s\S]*?)^```$/m.exec(markdown);
  if (!m) throw new Error('docs/ci.md has no ```sh ci-test block');
  return m[1]!;
}

before(() => {
  block = ciBlock(readFileSync(join(repoRoot(), 'docs', 'ci.md'), 'utf8'));
  work = tempDir('compress-ci-doc-');
  bin = join(work, 'bin');
  mkdirSync(bin);
  const shim = join(bin, 'compress');
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${mainJs}" "$@"\n`);
  chmodSync(shim, 0o755);
});

function runJob(env: Record<string, string>) {
  const root = repoRoot();
  const r = spawnSync('bash', ['-c', block], {
    cwd: work,
    encoding: 'utf8',
    env: {
      ...process.env,
      NO_COLOR: '1',
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      MODEL: join(root, 'fixtures/mlp/model.onnx'),
      CALIB_X: join(root, 'fixtures/mlp/data/calib_x.npy'),
      EVAL_X: join(root, 'fixtures/mlp/data/test_x.npy'),
      EVAL_Y: join(root, 'fixtures/mlp/data/test_y.npy'),
      ...env,
    },
  });
  return r;
}

test('the block is what the doc shows: two compress commands with the gates', () => {
  const commands = block.split('\n').filter((l) => l.startsWith('compress '));
  assert.deepEqual(
    commands.map((c) => c.split(' ').slice(0, 2).join(' ')),
    ['compress quantize', 'compress report'],
  );
  assert.match(block, /--max-accuracy-drop "\$MAX_ACCURACY_DROP" --min-agreement "\$MIN_AGREEMENT"/);
});

test('passing gates: exit 0, the model and its Markdown report written', () => {
  const out = join(work, 'pass', 'mlp.int8.onnx');
  const r = runJob({ OUT: out });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(out));
  const md = readFileSync(`${out}.report.md`, 'utf8');
  assert.match(md, /^\| accuracy \| 89\.00% \| 8\d\.\d\d% \|$/m);
  assert.match(md, /^\| max-size \| 300000 \| [\d,]+ \| pass \|$/m);
  assert.match(md, /^\| max-accuracy-drop \| 1 \| -?[\d.]+ \| pass \|$/m);
  assert.match(md, /^\*\*All gates passed\.\*\*$/m);
  const report = JSON.parse(readFileSync(`${out}.report.json`, 'utf8')) as { compressed: { bytes: number }; gates: { name: string; pass: boolean }[] };
  assert.ok(report.compressed.bytes < 300_000 && report.compressed.bytes > 200_000, String(report.compressed.bytes));
  assert.deepEqual(report.gates.map((g) => [g.name, g.pass]), [['max-size', true]]);
});

test('a too-strict size gate fails the job at step 1 with exit 1, naming the gate', () => {
  const out = join(work, 'small', 'mlp.int8.onnx');
  const r = runJob({ OUT: out, MAX_SIZE: '100KB' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^compress: gate failed: max-size: \d+ \(limit 100000\)$/m);
  assert.equal(existsSync(`${out}.report.md`), false, 'set -e stopped the job before step 2');
});

test('a too-strict agreement gate fails the job at step 2 with exit 1; the report still says why', () => {
  const out = join(work, 'agree', 'mlp.int8.onnx');
  const r = runJob({ OUT: out, MIN_AGREEMENT: '1' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^compress: gate failed: min-agreement: 0\.9\d+ \(limit 1\)$/m);
  assert.match(readFileSync(`${out}.report.md`, 'utf8'), /^\*\*A gate FAILED\.\*\*$/m);
});
