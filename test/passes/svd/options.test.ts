import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../../src/core/errors.js';
import { parseSvdOptions } from '../../../src/passes/svd/options.js';

test('parseSvdOptions: defaults, each rank rule, budgets in parameters or bytes', () => {
  assert.deepEqual(parseSvdOptions({}).rule, { kind: 'ratio', ratio: 0.5 });
  assert.deepEqual(parseSvdOptions({ rank: '16' }).rule, { kind: 'rank', rank: 16 });
  assert.deepEqual(parseSvdOptions({ energy: 0.95 }).rule, { kind: 'energy', energy: 0.95 });
  assert.deepEqual(parseSvdOptions({ budget: 1e5 }).rule, { kind: 'budget', params: 100000 });
  assert.deepEqual(parseSvdOptions({ budget: '2.5e5' }).rule, { kind: 'budget', params: 250000 });
  assert.deepEqual(parseSvdOptions({ budget: '200kB' }).rule, { kind: 'budget', bytes: 200000 });
  assert.deepEqual(parseSvdOptions({ budget: { kind: 'bytes', value: 4096 } }).rule, { kind: 'budget', bytes: 4096 });
  assert.equal(parseSvdOptions({ exclude: 'head' }).exclude?.source, 'head');
});

test('parseSvdOptions rejects conflicting and out-of-range values, naming the flag', () => {
  assert.throws(() => parseSvdOptions({ rank: 4, energy: 0.9 }), (e: unknown) => e instanceof UsageError && /--rank and --energy/.test(e.message));
  assert.throws(() => parseSvdOptions({ ratio: 0 }), (e: unknown) => e instanceof UsageError && /--ratio/.test(e.message));
  assert.throws(() => parseSvdOptions({ rank: 2.5 }), (e: unknown) => e instanceof UsageError && /--rank/.test(e.message));
  assert.throws(() => parseSvdOptions({ budget: '10 parsecs' }), (e: unknown) => e instanceof UsageError && /--budget/.test(e.message));
  assert.throws(() => parseSvdOptions({ exclude: '(' }), (e: unknown) => e instanceof UsageError && /--exclude/.test(e.message));
});
