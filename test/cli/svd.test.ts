/**
 * `compress svd` from the command line: a whole-model target on the digits fixture, the report's layers
 * (the kept head with its reason, counted in the summary line), and the one-line failures: nothing to
 * factorize (exit 1, nothing written) and --per-layer with --budget (exit 2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lines, runCli } from './helpers.js';

const model = 'fixtures/digits/model.onnx';

test('svd --ratio 0.25 --data: the factorizable weights at a quarter, the head kept and reported as left alone', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'svd-cli-'));
  try {
    const out = join(tmp, 'out.onnx');
    const r = await runCli(['svd', model, '--ratio', '0.25', '--data', 'fixtures/digits/data/calib_x.npy', '-o', out, '--json', '--quiet'], { env: { COMPRESS_THREADS: '1' } });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { layers: { name: string; rank?: number; params: number; skipped?: string }[]; plan?: unknown };
    assert.deepEqual(report.layers.map((l) => l.skipped ?? 'factorized'), ['factorized', 'factorized', 'output head kept (--no-keep-head to factorize it)']);
    assert.ok(report.layers.reduce((s, l) => s + l.params, 0) <= 0.25 * 84480);
    assert.ok(existsSync(out));
    const quiet = await runCli(['svd', model, '--ratio', '0.25', '-o', join(tmp, 'plain.onnx')], { env: { COMPRESS_THREADS: '1' } });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.match(quiet.stderr, /1 weight left as it was \(1 output head kept \(--no-keep-head to factorize it\)\)/);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('svd that factorizes nothing exits 1 with one line and writes nothing; --per-layer with --budget exits 2', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'svd-cli-'));
  try {
    const out = join(tmp, 'out.onnx');
    const r = await runCli(['svd', model, '--ratio', '1', '-o', out], { env: { COMPRESS_THREADS: '1' } });
    assert.equal(r.code, 1);
    const errs = lines(r.stderr);
    assert.equal(errs.length, 1, r.stderr);
    assert.match(errs[0]!, /nothing to factorize: none of the 3 MatMul\/Gemm\/Conv weights can be: 2 the target is met with this layer whole \(Gemm\); 1 output head kept/);
    assert.ok(!existsSync(out));
    const u = await runCli(['svd', model, '--per-layer', '--budget', '20000', '-o', out]);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /--per-layer does not combine with --budget/);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
