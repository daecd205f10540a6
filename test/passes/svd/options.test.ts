import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../../src/core/errors.js';
import { isWholeModel, parseSvdOptions } from '../../../src/passes/svd/options.js';

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

test('parseSvdOptions: whole-model by default, --per-layer, the head kept unless asked, the sensitivity', () => {
  const d = parseSvdOptions({});
  assert.deepEqual([d.perLayer, d.keepHead, d.sensitivity], [false, true, undefined]);
  assert.equal(isWholeModel(d), true);
  assert.equal(isWholeModel(parseSvdOptions({ ratio: 0.3, perLayer: true })), false);
  assert.equal(isWholeModel(parseSvdOptions({ budget: 1000 })), true);
  assert.equal(isWholeModel(parseSvdOptions({ energy: 0.9 })), false);
  assert.equal(parseSvdOptions({ keepHead: false }).keepHead, false);
  assert.equal(parseSvdOptions({ sensitivity: 'model' }).sensitivity, 'model');
  assert.throws(() => parseSvdOptions({ budget: 1000, perLayer: true }), (e: unknown) => e instanceof UsageError && /--per-layer does not combine with --budget/.test(e.message));
  assert.throws(() => parseSvdOptions({ sensitivity: 'auto' }), (e: unknown) => e instanceof UsageError && /--sensitivity must be one of layer, model/.test(e.message));
});
