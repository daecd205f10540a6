/**
 * Fidelity of a compressed model's outputs against its original's, accumulated batch by batch so that
 * no output is held longer than one forward pass (create, accumulate, solve: STYLE.md habit 2).
 *
 * An output of shape [..., C] is read as rows of C scores (the last axis: classes, or the vocabulary at
 * every position of a language model). Per row: top-1 agreement (same argmax), the Kullback-Leibler
 * divergence KL(softmax(original) || softmax(compressed)) in nats, and the cosine of the two rows; these
 * are averaged over rows. Over all elements: the largest absolute difference and the signal-to-
 * quantization-noise ratio SQNR = 10 log10(sum o^2 / sum (o - c)^2) in dB. All sums are in float64.
 *
 * Identical outputs have zero noise and an infinite SQNR; JSON has no Infinity, so the SQNR is capped
 * at `sqnrCapDb` (300 dB: a single float32 rounding step on every element is about 150 dB, so 300 only
 * ever means "bit-identical").
 */
import type { Fidelity } from './schema.js';

/** The SQNR reported for outputs without any difference (dB). */
export const sqnrCapDb = 300;

/** Running sums of the fidelity measures. */
export interface FidelityState {
  rows: number;
  agree: number;
  klSum: number;
  cosSum: number;
  maxAbsDiff: number;
  signal: number;
  noise: number;
}

/** An empty accumulator. */
export function createFidelity(): FidelityState {
  return { rows: 0, agree: 0, klSum: 0, cosSum: 0, maxAbsDiff: 0, signal: 0, noise: 0 };
}

/** Index of the largest entry of a[off, off + n) (the first one on ties, as numpy's argmax). */
export function argmax(a: ArrayLike<number>, off: number, n: number): number {
  let best = 0;
  let v = a[off]!;
  for (let j = 1; j < n; j++) {
    const x = a[off + j]!;
    if (x > v || (Number.isNaN(x) && !Number.isNaN(v))) {
      v = x;
      best = j;
    }
  }
  return best;
}

/** log(sum exp(a[off..off+n))), computed stably around the maximum. */
export function logSumExp(a: ArrayLike<number>, off: number, n: number): number {
  let m = -Infinity;
  for (let j = 0; j < n; j++) m = Math.max(m, a[off + j]!);
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let j = 0; j < n; j++) s += Math.exp(a[off + j]! - m);
  return m + Math.log(s);
}

/**
 * KL(softmax(p) || softmax(q)) of one row of logits: sum_j P_j (log P_j - log Q_j), with
 * log P_j = p_j - lse(p). Rows that are already probabilities give a different but still zero-for-
 * identical number; classifiers export logits, and that is what this measures.
 */
export function klRow(p: ArrayLike<number>, q: ArrayLike<number>, off: number, n: number): number {
  const lp = logSumExp(p, off, n);
  const lq = logSumExp(q, off, n);
  let kl = 0;
  for (let j = 0; j < n; j++) {
    const a = p[off + j]! - lp;
    const pj = Math.exp(a);
    if (pj > 0) kl += pj * (a - (q[off + j]! - lq));
  }
  return Math.max(0, kl);
}

/**
 * Adds one batch: `orig` and `comp` hold the same output of both models (same length), `last` is the
 * size of the last axis (1 for outputs without one).
 */
export function accumulateFidelity(s: FidelityState, orig: ArrayLike<number>, comp: ArrayLike<number>, last: number): void {
  if (orig.length !== comp.length) {
    throw new RangeError(`the two models' outputs differ in size (${orig.length} vs ${comp.length} elements)`);
  }
  const c = Math.max(1, last);
  const rows = Math.floor(orig.length / c);
  for (let r = 0; r < rows; r++) {
    const off = r * c;
    if (argmax(orig, off, c) === argmax(comp, off, c)) s.agree++;
    s.klSum += c > 1 ? klRow(orig, comp, off, c) : 0;
    let oo = 0;
    let cc = 0;
    let oc = 0;
    for (let j = 0; j < c; j++) {
      const o = orig[off + j]!;
      const q = comp[off + j]!;
      oo += o * o;
      cc += q * q;
      oc += o * q;
      const d = Math.abs(o - q);
      if (d > s.maxAbsDiff || Number.isNaN(d)) s.maxAbsDiff = d;
      s.noise += (o - q) * (o - q);
    }
    s.signal += oo;
    // Two zero rows are the same row: cosine 1.
    s.cosSum += oo === 0 && cc === 0 ? 1 : oo === 0 || cc === 0 ? 0 : oc / Math.sqrt(oo * cc);
  }
  s.rows += rows;
}

/** SQNR in dB of a signal energy and a noise energy (capped at `sqnrCapDb`). */
export function sqnrDb(signal: number, noise: number): number {
  if (noise === 0) return sqnrCapDb;
  if (signal === 0) return -sqnrCapDb;
  return Math.min(sqnrCapDb, 10 * Math.log10(signal / noise));
}

/** The fidelity measures of what was accumulated. */
export function solveFidelity(s: FidelityState): Fidelity {
  if (s.rows === 0) return {};
  return {
    top1Agreement: s.agree / s.rows,
    kl: s.klSum / s.rows,
    cosine: s.cosSum / s.rows,
    maxAbsDiff: s.maxAbsDiff,
    sqnrDb: sqnrDb(s.signal, s.noise),
  };
}
