import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../../src/core/errors.js';
import { Model } from '../../../src/ir/model.js';
import { parseDistillOptions } from '../../../src/passes/distill/options.js';

test('defaults follow CLI.md and parsing is idempotent', () => {
  const teacher = new Model();
  const o = parseDistillOptions({ teacher });
  assert.equal(o.teacher, teacher);
  assert.deepEqual([o.epochs, o.batchSize, o.lr, o.temperature, o.alpha, o.seed, o.resume], [3, 32, 1e-3, 4, 0.7, 0, false]);
  assert.deepEqual([o.weightDecay, o.clipNorm, o.backend, o.task], [0.01, 1, 'auto', 'auto']);
  assert.deepEqual(parseDistillOptions(o), o);
  const p = parseDistillOptions({ epochs: '5', lr: 0.01, hidden: [{ teacher: 'a', student: 'b' }], checkpoint: 'ck', resume: true, evalData: 'x.npy', evalLabels: 'y.npy' });
  assert.deepEqual([p.epochs, p.lr, p.hidden, p.checkpoint, p.resume], [5, 0.01, [{ teacher: 'a', student: 'b' }], 'ck', true]);
});

test('bad values name their flag and range', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ epochs: 0 }, /--epochs must be an integer >= 1/],
    [{ alpha: 1.5 }, /--alpha must be in \[0, 1\]/],
    [{ temperature: 0 }, /--temperature/],
    [{ lr: -1 }, /--lr/],
    [{ resume: true }, /--resume needs --checkpoint/],
    [{ evalLabels: 'y.npy' }, /--eval-labels needs --eval-data/],
    [{ teacher: 'model.onnx' }, /loaded Model/],
    [{ backend: 'gpu' }, /--backend/],
    [{ hidden: [{ teacher: 'a' }] }, /--hidden/],
  ];
  for (const [raw, re] of bad) assert.throws(() => parseDistillOptions(raw), (e: Error) => e instanceof UsageError && re.test(e.message), JSON.stringify(raw));
});
