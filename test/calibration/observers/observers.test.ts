import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AutoObserver,
  createObserver,
  entropyRange,
  EntropyObserver,
  Histogram,
  klDivergence,
  MinMaxObserver,
  mseRange,
  MseObserver,
  PercentileObserver,
  QuantizationError,
  smoothDistribution,
} from '../../../src/calibration/observers/index.js';
import { quantizeValue, scaleZeroPoint } from '../../../src/tensor/quant.js';

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

/** Mean |x - q(x)|^p of the values themselves, fake-quantized with the uint8 grid of [lo, hi]. */
function bruteError(v: Float32Array, lo: number, hi: number, p: number): number {
  const { scale, zeroPoint } = scaleZeroPoint(lo, hi, 0, 255, false);
  let s = 0;
  for (const x of v) s += Math.abs((quantizeValue(x, scale, zeroPoint, 0, 255) - zeroPoint) * scale - x) ** p;
  return s / v.length;
}

/** A Relu'd gaussian with a long tail: 40 % exact zeros, a few values far out. */
function reluTail(n: number, seed: number): Float32Array {
  const v = gaussian(n, seed);
  for (let i = 0; i < n; i++) v[i] = Math.max(0, v[i]! + 0.25);
  for (let i = 0; i < n; i += 500) v[i] = 6 + (i % 7);
  return v;
}

test('QuantizationError matches fake-quantizing the values themselves (p = 2 and 4, with and without clipping)', () => {
  for (const [name, v] of [['gaussian', gaussian(40000, 5)], ['relu with tail', reluTail(40000, 6)]] as const) {
    const h = new Histogram(2048);
    h.update(v.subarray(0, 20000));
    h.update(v.subarray(20000));
    let lo = Infinity;
    let hi = -Infinity;
    for (const x of v) (lo = Math.min(lo, x)), (hi = Math.max(hi, x));
    for (const p of [2, 4]) {
      const e = new QuantizationError(h, 256, p);
      for (const [a, b] of [[lo, hi], [lo * 0.5, hi * 0.5], [lo * 0.9, hi * 0.2]]) {
        const model = e.error(a!, b!);
        const brute = bruteError(v, a!, b!, p);
        assert.ok(Math.abs(model / brute - 1) < 0.06, `${name} p=${p} [${a}, ${b}]: model ${model} vs values ${brute}`);
      }
      // The norm is mean |x|^p.
      const norm = v.reduce((s, x) => s + Math.abs(x) ** p, 0) / v.length;
      assert.ok(Math.abs(e.norm / norm - 1) < 0.01, `${name} p=${p}: norm ${e.norm} vs ${norm}`);
    }
  }
});

test('QuantizationError: exact zeros cost nothing, and a range as wide as the bins does not alias to 0', () => {
  const v = new Float32Array(20000);
  for (let i = 0; i < v.length; i++) v[i] = i % 2 === 0 ? 0 : (((i * 7919) % 10007) + 1) / 10008;
  const h = new Histogram(2048);
  h.update(v);
  assert.equal(h.zeros, 10000);
  const e = new QuantizationError(h);
  // [0, 0.25]: the uint8 step is about one bin wide; at bin centres the rounding error could read ~0.
  for (const [a, b] of [[0, 1], [0, 0.25]]) {
    const brute = bruteError(v, a!, b!, 2);
    assert.ok(Math.abs(e.error(a!, b!) / brute - 1) < 0.05, `[${a}, ${b}]: ${e.error(a!, b!)} vs ${brute}`);
  }
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
  assert.ok(bruteError(v, r.min, r.max, 2) < bruteError(v, -30, 30, 2), 'the cut lowers the error of the values themselves');
});

test('mse cuts each side on its own: a lone far value above is cut, the dense lower side is kept', () => {
  // A million Relu'd values with a dense negative shoulder (a HardSwish-like dip) and two far values above:
  // cutting those two saves more rounding error on a million values than it costs them.
  const v = reluTail(1_000_000, 8).map((x) => Math.min(x, 4.5));
  for (let i = 1; i < v.length; i += 3) v[i] = -0.2 * ((i % 5) / 5);
  v[0] = 15;
  v[7] = 14;
  const h = new Histogram(2048);
  h.update(v);
  const r = mseRange(new QuantizationError(h));
  assert.ok(r.max < 12 && r.max >= 4.4, `upper ${r.max} of ${h.max}`);
  assert.equal(r.min, h.min, 'the lower side is dense: nothing to gain by cutting it');
  assert.ok(bruteError(v, r.min, r.max, 2) < bruteError(v, h.min, h.max, 2));
});

test('entropy keeps nearly the whole range of a gaussian without outliers, including spiky (discrete) and Relu forms', () => {
  for (const step of [0, 1 / 64, 1 / 16]) {
    for (const relu of [false, true]) {
      const h = new Histogram(2048);
      for (let b = 0; b < 4; b++) {
        const v = gaussian(50000, 10 + b);
        for (let i = 0; i < v.length; i++) {
          if (step) v[i] = Math.round(v[i]! / step) * step;
          if (relu) v[i] = Math.max(0, v[i]!);
        }
        h.update(v);
      }
      const r = entropyRange(h);
      const label = `step ${step}, relu ${relu}: [${r.min}, ${r.max}] of [${h.min}, ${h.max}]`;
      assert.ok(r.max >= 0.85 * h.max && r.max <= h.max, label);
      if (relu) assert.equal(r.min, 0, label);
      else assert.ok(r.min <= 0.85 * h.min, label);
    }
  }
});

/** Student's t with 3 degrees of freedom: a heavy tail, the largest of 100k values some 40 sigma out. */
function studentT(n: number, seed: number): Float32Array {
  const z = gaussian(n * 4, seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = z[4 * i]! / Math.sqrt((z[4 * i + 1]! ** 2 + z[4 * i + 2]! ** 2 + z[4 * i + 3]! ** 2) / 3);
  return out;
}

test('auto: nothing cut on a bounded distribution, the tail trimmed on a heavy-tailed one, with the reason', () => {
  const uniform = new AutoObserver();
  const u = new Float32Array(30000);
  for (let i = 0; i < u.length; i++) u[i] = ((i * 7919) % 30011) / 30011 - 0.3;
  uniform.update(u);
  const cu = uniform.choice();
  assert.equal(cu.method, 'minmax', JSON.stringify(cu));
  assert.deepEqual([cu.min, cu.max], [uniform.hist.min, uniform.hist.max]);

  const tail = new AutoObserver();
  const v = studentT(100000, 4);
  tail.update(v.subarray(0, 50000));
  tail.update(v.subarray(50000));
  const c = tail.choice();
  const h = tail.hist;
  assert.notEqual(c.method, 'minmax');
  assert.ok(c.max < h.max && c.min > h.min, JSON.stringify(c));
  assert.deepEqual(c.observed, { min: h.min, max: h.max });
  // The reason: its error (auto's power) is the least of the candidates, and the runner-up's is larger.
  const all = tail.candidates();
  assert.deepEqual(all.map((x) => x.method), ['minmax', 'percentile 99.999', 'percentile 99.99', 'percentile 99.9', 'entropy', 'mse', `lp${tail.power}`]);
  assert.equal(c.error, Math.min(...all.map((x) => x.error)));
  assert.ok(c.runnerUp && c.runnerUp.error >= c.error! && (c.runnerUp.min !== c.min || c.runnerUp.max !== c.max));
  const e = new QuantizationError(h, 256, tail.power);
  assert.ok(Math.abs(c.error! - e.error(c.min, c.max) / e.norm) < 1e-12);
  assert.ok(bruteError(v, c.min, c.max, tail.power) < bruteError(v, h.min, h.max, tail.power), 'the values themselves agree: the trim lowers their error');
  assert.deepEqual(tail.range(), { min: c.min, max: c.max });
});

test('named observers explain their range too: method, observed extremes, relative mse', () => {
  const v = gaussian(10000, 9);
  for (const m of ['minmax', 'percentile', 'entropy', 'mse'] as const) {
    const o = createObserver(m, { percentile: 99.9 });
    o.update(v);
    const c = o.choice();
    assert.equal(c.method, m === 'percentile' ? 'percentile 99.9' : m);
    assert.deepEqual({ min: c.min, max: c.max }, o.range());
    assert.ok(c.observed.min < -3 && c.observed.max > 3);
    if (m !== 'minmax') assert.ok(c.error! > 0 && c.error! < 1e-3, `${m}: ${c.error}`);
  }
});

test('createObserver returns the asked method', () => {
  assert.ok(createObserver('auto') instanceof AutoObserver);
  assert.ok(createObserver('minmax') instanceof MinMaxObserver);
  assert.ok(createObserver('percentile', { percentile: 99.9 }) instanceof PercentileObserver);
  assert.ok(createObserver('entropy') instanceof EntropyObserver);
  assert.ok(createObserver('mse') instanceof MseObserver);
});
