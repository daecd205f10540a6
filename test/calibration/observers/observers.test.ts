import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createObserver, EntropyObserver, Histogram, klDivergence, MinMaxObserver, MseObserver, PercentileObserver, smoothDistribution } from '../../../src/calibration/observers/index.js';

function gaussian(n: number, seed: number, sigma = 1): Float32Array {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967297;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = sigma * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

test('minmax accumulates across batches', () => {
  const o = new MinMaxObserver();
  o.update([1, 2, -3]);
  o.update([0.5, 7]);
  assert.deepEqual(o.range(), { min: -3, max: 7 });
  assert.equal(o.count, 5);
  assert.deepEqual(new MinMaxObserver().range(), { min: 0, max: 0 });
});

test('histogram grows by whole bins and keeps earlier counts (onnxruntime merge_histogram)', () => {
  const h = new Histogram(4);
  h.update([-1, -0.4, 0.1, 0.9]); // range [-1, 1], bins of 0.5
  assert.deepEqual(Array.from(h.counts), [1, 1, 1, 1]);
  h.update([2.2]); // needs [-2.5, 2.5]: 3 more bins each side (floor(1.2 / 0.5) + 1)
  assert.equal(h.bins, 10);
  assert.equal(h.threshold, 2.5);
  assert.deepEqual(Array.from(h.counts), [0, 0, 0, 1, 1, 1, 1, 0, 0, 1]);
  assert.equal(h.count, 5);
  assert.equal(h.edge(0), -2.5);
  assert.equal(h.edge(10), 2.5);
});

test('percentile trims the tails: 1000 values, 99 % keeps the middle', () => {
  const o = new PercentileObserver(99, 2048);
  const v = new Float32Array(1000);
  for (let i = 0; i < 1000; i++) v[i] = i / 999; // uniform on [0, 1]
  v[999] = 100; // one outlier
  o.update(v);
  const r = o.range();
  assert.ok(r.max < 1.2, `max ${r.max} should drop the outlier`);
  assert.ok(r.max > 0.9, `max ${r.max}`);
  assert.ok(r.min >= 0 && r.min < 0.01);
  // 100 % keeps everything
  const all = new PercentileObserver(100);
  all.update(v);
  assert.deepEqual(all.range(), { min: 0, max: 100 });
});

test('smoothDistribution and KL divergence', () => {
  assert.equal(smoothDistribution(new Float64Array([0, 0])), null);
  const s = smoothDistribution(new Float64Array([0, 2, 2]))!;
  assert.ok(Math.abs(s[0]! - 0.0001) < 1e-12 && Math.abs(s[1]! - (2 - 0.00005)) < 1e-12);
  assert.equal(klDivergence(new Float64Array([1, 1]), new Float64Array([2, 2])), 0);
  // KL([0.5, 0.5] || [0.25, 0.75]) = 0.5 ln 2 + 0.5 ln(2/3)
  const kl = klDivergence(new Float64Array([1, 1]), new Float64Array([1, 3]));
  assert.ok(Math.abs(kl - (0.5 * Math.log(2) + 0.5 * Math.log(2 / 3))) < 1e-12);
});

test('entropy clips a heavy-tailed distribution well inside its extremes, over several batches', () => {
  const o = new EntropyObserver();
  for (let b = 0; b < 4; b++) {
    const v = gaussian(5000, 10 + b);
    v[0] = 40 * (b + 1); // rare huge outliers
    o.update(v);
  }
  const r = o.range();
  assert.ok(r.max < 20 && r.max > 2.5, `max ${r.max}`);
  assert.ok(r.min > -20 && r.min < -2.5, `min ${r.min}`);
});

test('mse picks a range below the extremes for a gaussian with outliers, and its error is not worse than min/max', () => {
  const o = new MseObserver();
  const v = gaussian(20000, 3);
  v[0] = 30;
  v[1] = -30;
  o.update(v);
  const r = o.range();
  assert.ok(r.max < 30 && r.min > -30, JSON.stringify(r));
  assert.ok(o.errorOf(r.min, r.max) <= o.errorOf(-30, 30));
});

test('createObserver returns the asked method', () => {
  assert.ok(createObserver('minmax') instanceof MinMaxObserver);
  assert.ok(createObserver('percentile', { percentile: 99.9 }) instanceof PercentileObserver);
  assert.ok(createObserver('entropy') instanceof EntropyObserver);
  assert.ok(createObserver('mse') instanceof MseObserver);
});
