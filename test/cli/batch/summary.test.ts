/**
 * Summaries and their merge: rows sorted by input, totals summed, the worst exit code; a model in two
 * summaries, different commands or splits are refused; a missing shard fails the merge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../../src/core/errors.js';
import { mergeSummaries, readSummary, summaryRow, totalsOf, type Summary } from '../../../src/cli/batch/summary.js';
import { tempDir } from '../../helpers/tmp.js';

function summary(command: string, shard: { index: number; count: number } | null, rows: [string, number, 'ok' | 'failed' | 'skipped', number, number][]): Summary {
  const r = rows.map(([input, exitCode, status, before, after]) =>
    summaryRow({
      input,
      output: `out/${input}`,
      status,
      exitCode,
      seconds: 1.5,
      report: { schema: 1, command, original: { bytes: before, params: 1, opCounts: {} }, compressed: { bytes: after, params: 1, opCounts: {} }, sizeRatio: after / before, gates: [], passed: exitCode === 0 },
    }),
  );
  return {
    schema: 1,
    kind: 'compress-summary',
    tool: 'compress 0.0.0',
    command,
    shard,
    inputs: 5,
    exitCode: Math.max(0, ...r.map((x) => x.exitCode)),
    totals: totalsOf(r),
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:01:00.000Z',
    seconds: 60,
    rows: r,
  };
}

const usage = (re: RegExp) => (e: Error) => e instanceof UsageError && re.test(e.message);

test('merging shards: rows sorted by input, totals summed, the worst exit code', () => {
  const s1 = summary('quantize', { index: 1, count: 2 }, [
    ['m/c.onnx', 0, 'ok', 100, 30],
    ['m/a.onnx', 1, 'failed', 200, 60],
    ['m/e.onnx', 0, 'skipped', 50, 10],
  ]);
  const s2 = summary('quantize', { index: 2, count: 2 }, [
    ['m/b.onnx', 0, 'ok', 10, 3],
    ['m/d.onnx', 3, 'failed', 7, 0],
  ]);
  const m = mergeSummaries([{ path: 's1.json', summary: s1 }, { path: 's2.json', summary: s2 }], 'compress 0.0.0');
  assert.deepEqual(m.rows.map((r) => r.input), ['m/a.onnx', 'm/b.onnx', 'm/c.onnx', 'm/d.onnx', 'm/e.onnx']);
  assert.deepEqual(m.totals, { models: 5, ok: 2, failed: 2, skipped: 1, planned: 0, bytesBefore: 367, bytesAfter: 103 });
  assert.equal(m.exitCode, 3);
  assert.equal(m.inputs, 5);
  assert.equal(m.seconds, 120);
  assert.deepEqual(m.shards, { count: 2, present: [1, 2], missing: [] });
  assert.deepEqual(m.merged?.map((x) => [x.file, x.rows, x.exitCode]), [['s1.json', 3, 1], ['s2.json', 2, 3]]);
  assert.equal(m.shard, null);
  assert.equal(m.rows[1]!.bytes.after, 3);
  assert.equal(m.rows[1]!.sizeRatio, 0.3);
});

test('a missing shard fails the merge (exit 1 at least); duplicates, mixed commands and mixed splits are refused', () => {
  const s1 = summary('quantize', { index: 1, count: 3 }, [['m/a.onnx', 0, 'ok', 1, 1]]);
  const s3 = summary('quantize', { index: 3, count: 3 }, [['m/c.onnx', 0, 'ok', 1, 1]]);
  const m = mergeSummaries([{ path: 's1', summary: s1 }, { path: 's3', summary: s3 }], 'compress 0.0.0');
  assert.deepEqual(m.shards, { count: 3, present: [1, 3], missing: [2] });
  assert.equal(m.exitCode, 1);
  assert.throws(() => mergeSummaries([{ path: 's1', summary: s1 }, { path: 'again', summary: s1 }], 'x'), usage(/'m\/a\.onnx' is in both 's1' and 'again'/));
  const p = summary('prune', { index: 2, count: 3 }, [['m/b.onnx', 0, 'ok', 1, 1]]);
  assert.throws(() => mergeSummaries([{ path: 's1', summary: s1 }, { path: 'p', summary: p }], 'x'), usage(/different commands \(quantize, prune\)/));
  const other = summary('quantize', { index: 2, count: 4 }, [['m/b.onnx', 0, 'ok', 1, 1]]);
  assert.throws(() => mergeSummaries([{ path: 's1', summary: s1 }, { path: 'o', summary: other }], 'x'), usage(/different splits \(1\/3, 2\/4\)/));
  assert.throws(() => mergeSummaries([], 'x'), usage(/at least one summary/));
});

test('readSummary: only our summaries are read', () => {
  const dir = tempDir('compress-summary-');
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify(summary('svd', null, [['a.onnx', 0, 'ok', 1, 1]])));
  assert.equal(readSummary(good).command, 'svd');
  writeFileSync(join(dir, 'report.json'), JSON.stringify({ schema: 1, command: 'quantize', original: {} }));
  assert.throws(() => readSummary(join(dir, 'report.json')), usage(/is not a compress summary/));
  writeFileSync(join(dir, 'bad.json'), '{');
  assert.throws(() => readSummary(join(dir, 'bad.json')), usage(/is not JSON/));
  assert.throws(() => readSummary(join(dir, 'none.json')), usage(/no such file/));
});
