/**
 * The peer benchmarks' measurements (bench/proctree.ts): peak memory summed over a whole process tree,
 * and runs that fail or are killed reported as results.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { failureLine, killLiveChildren, lastMeaningfulLine, processTree, runMeasured, treeRss } from '../../bench/proctree.js';

const procfs = existsSync('/proc/self/status');

/** A node child that holds `mb` MB resident (touched) for `ms`, after starting a grandchild holding `childMb`. */
function holder(mb: number, childMb: number, ms: number): string[] {
  const grand = `const b = Buffer.alloc(${childMb} * 2 ** 20, 1); setTimeout(() => b.length, ${ms});`;
  return [
    '-e',
    `const { spawn } = require('node:child_process');` +
      `const c = spawn(process.execPath, ['-e', ${JSON.stringify(grand)}], { stdio: 'inherit' });` +
      `const b = Buffer.alloc(${mb} * 2 ** 20, 1);` +
      `c.on('exit', () => { process.stdout.write(String(b.length)); });`,
  ];
}

test('runMeasured sums the resident sets of a child and its grandchild', { skip: !procfs && 'no /proc' }, async () => {
  // Alone, the child holds 120 MB and the grandchild 200 MB (plus each node's own ~40 MB): only their sum passes 330 MB.
  const m = await runMeasured(process.execPath, holder(120, 200, 1500), { intervalMs: 20 });
  assert.equal(m.code, 0);
  assert.equal(m.signal, null);
  assert.equal(m.stdout, String(120 * 2 ** 20));
  assert.ok(m.samples > 10, `${m.samples} samples`);
  assert.ok(m.peakRss > 330 * 2 ** 20, `peak ${m.peakRss / 2 ** 20} MB`);
  assert.ok(m.peakRss < 1000 * 2 ** 20, `peak ${m.peakRss / 2 ** 20} MB`);
  assert.ok(m.seconds >= 1.4 && m.seconds < 30, `${m.seconds} s`);
});

test('a child killed by SIGKILL, as the OOM killer does, is a result that says so', { skip: !procfs && 'no /proc' }, async () => {
  const m = await runMeasured(process.execPath, ['-e', `const b = Buffer.alloc(50 * 2 ** 20, 1); setTimeout(() => process.kill(process.pid, 'SIGKILL'), 300 + b.length * 0);`]);
  assert.equal(m.code, null);
  assert.equal(m.signal, 'SIGKILL');
  assert.match(failureLine(m), /^killed by SIGKILL \(likely the OOM killer\) at \d+\.\d GB$/);
});

test('a failing child gives its exit code and the last line of its stderr', async () => {
  const m = await runMeasured(process.execPath, ['-e', `console.error('Traceback (most recent call last):\\n  File "x.py", line 1\\nValueError: Expected w to be an initializer\\n'); process.exit(3)`]);
  assert.equal(m.code, 3);
  assert.equal(failureLine(m), 'exit 3: ValueError: Expected w to be an initializer');
});

test('a run past its timeout is killed with its children and reported as timed out', { skip: !procfs && 'no /proc' }, async () => {
  const m = await runMeasured(process.execPath, holder(10, 10, 60000), { timeoutSeconds: 1 });
  assert.equal(m.timedOut, true);
  assert.ok(m.seconds < 20, `${m.seconds} s`);
  assert.match(failureLine(m), /^timed out after \d+ s$/);
});

test('lastMeaningfulLine skips progress bars, colour codes, traceback frames and our closing hint', () => {
  assert.equal(lastMeaningfulLine('loading\n\x1b[33mwarning: x\x1b[0m\n 45%|████      | 9/20\n'), 'warning: x');
  assert.equal(lastMeaningfulLine('a\n  File "q.py", line 3, in f\n'), 'a');
  assert.equal(lastMeaningfulLine('compress: error: boom\nhint: run again with --verbose for the stack trace\n'), 'compress: error: boom');
  assert.equal(lastMeaningfulLine(''), '');
  assert.equal(lastMeaningfulLine('x'.repeat(300)).length, 160);
});

test('processTree finds this process; treeRss counts at least its own resident set', { skip: !procfs && 'no /proc' }, () => {
  assert.deepEqual(processTree(process.pid, new Map([[process.pid, 1], [42, process.pid], [43, 42], [44, 1]])), [process.pid, 42, 43]);
  assert.ok(processTree(process.pid).includes(process.pid));
  assert.ok(treeRss(process.pid) >= process.memoryUsage().rss * 0.5);
});

test('killLiveChildren takes down the trees of runs still going (what a stopped benchmark does)', { skip: !procfs && 'no /proc' }, async () => {
  const running = runMeasured(process.execPath, holder(10, 10, 60000));
  await new Promise((r) => setTimeout(r, 500));
  killLiveChildren();
  const m = await running;
  assert.equal(m.signal, 'SIGKILL');
  assert.ok(m.seconds < 20, `${m.seconds} s`);
});
