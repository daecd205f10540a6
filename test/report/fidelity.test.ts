/**
 * The report's pure maths on hand-computed cases: fidelity (agreement, KL, cosine, max diff, SQNR),
 * accuracy, perplexity and latency percentiles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accumulateFidelity, argmax, createFidelity, klRow, logSumExp, solveFidelity, sqnrCapDb, sqnrDb } from '../../src/report/fidelity.js';
import { percentile, measureLatency } from '../../src/report/latency.js';
import { accumulateAccuracy, accumulatePerplexity, createAccuracy, createPerplexity, solveAccuracy, solvePerplexity } from '../../src/report/metrics.js';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

test('argmax takes the first maximum; logSumExp is stable for large logits', () => {
  assert.equal(argmax([1, 3, 3, 2], 0, 4), 1);
  assert.equal(argmax([9, 1, 3, 3, 2], 1, 4), 1);
  close(logSumExp([1000, 1000], 0, 2), 1000 + Math.log(2));
});

test('KL of two 2-class rows equals the closed form', () => {
  // softmax([0, 0]) = [0.5, 0.5]; softmax([0, ln 3]) = [0.25, 0.75]
  const kl = klRow([0, 0], [0, Math.log(3)], 0, 2);
  close(kl, 0.5 * Math.log(0.5 / 0.25) + 0.5 * Math.log(0.5 / 0.75));
  assert.equal(klRow([1, 2, 3], [1, 2, 3], 0, 3), 0);
});

test('fidelity over rows: agreement, mean KL, mean cosine, max abs diff, SQNR', () => {
  const s = createFidelity();
  // three rows of 2 classes, in two batches
  accumulateFidelity(s, [0, 0], [0, Math.log(3)], 2);
  accumulateFidelity(s, [3, 1, 1, 0], [1, 3, 1, 0], 2);
  const f = solveFidelity(s);
  assert.equal(f.top1Agreement, 1 / 3, 'row 1: argmax 0 (a tie takes the first) vs 1; row 2: 0 vs 1; row 3: 0 vs 0');
  const kl1 = 0.5 * Math.log(0.5 / 0.25) + 0.5 * Math.log(0.5 / 0.75);
  const p = [Math.exp(3) / (Math.exp(3) + Math.exp(1)), Math.exp(1) / (Math.exp(3) + Math.exp(1))];
  const kl2 = p[0]! * Math.log(p[0]! / p[1]!) + p[1]! * Math.log(p[1]! / p[0]!);
  close(f.kl!, (kl1 + kl2 + 0) / 3);
  close(f.cosine!, (0 + 6 / 10 + 1) / 3, 1e-12);
  close(f.maxAbsDiff!, 2);
  close(f.sqnrDb!, 10 * Math.log10(11 / (Math.log(3) ** 2 + 8)));
});

test('identical outputs: agreement 1, KL 0, cosine 1, no difference, SQNR at its documented cap', () => {
  const s = createFidelity();
  const x = Float32Array.from([0.1, -2, 5, 0, 0, 0]);
  accumulateFidelity(s, x, x, 3);
  assert.deepEqual(solveFidelity(s), { top1Agreement: 1, kl: 0, cosine: 1, maxAbsDiff: 0, sqnrDb: sqnrCapDb });
  assert.equal(sqnrCapDb, 300);
  assert.equal(sqnrDb(1, 1e-40), 300);
  close(sqnrDb(100, 1), 20);
});

test('accuracy counts argmax == label; perplexity is exp of the mean next-token NLL', () => {
  const a = createAccuracy();
  accumulateAccuracy(a, [0.1, 0.9, 0.8, 0.2, 0.3, 0.7], 2, Int32Array.from([1, 1, 1]));
  assert.equal(solveAccuracy(a), 2 / 3);

  // one row of 3 tokens, vocab 2: predictions at positions 0 and 1 for tokens 1 and 0
  const p = createPerplexity();
  const logits = [0, Math.log(3), 0, 0, 7, 7];
  accumulatePerplexity(p, logits, BigInt64Array.from([0n, 1n, 0n]), 1, 3, 2);
  // P(1 | pos 0) = 0.75, P(0 | pos 1) = 0.5; position 2 predicts nothing
  close(solvePerplexity(p)!, Math.exp(-(Math.log(0.75) + Math.log(0.5)) / 2));
  assert.equal(p.predictions, 2);
  assert.throws(() => accumulatePerplexity(p, logits, BigInt64Array.from([0n, 5n, 0n]), 1, 3, 2), /outside the vocabulary/);
});

test('percentiles interpolate like numpy; latency runs the asked number of times', async () => {
  assert.equal(percentile([1, 2, 3, 4, 5], 50), 3);
  close(percentile([1, 2, 3, 4], 95), 3.85);
  let calls = 0;
  const r = await measureLatency(async () => calls++, { warmup: 2, runs: 7, budgetMs: 10_000 });
  assert.equal(calls, 9);
  assert.equal(r.runs, 7);
  assert.ok(r.p50 >= 0 && r.p95 >= r.p50);
});
