/**
 * Task metrics of one model, accumulated batch by batch (CLI.md --task):
 * - classification: accuracy = share of samples whose argmax over the last axis equals the label;
 * - lm: perplexity = exp(mean negative log-likelihood of the next token), over the seq - 1 predictions
 *   inside each row of token ids [n, seq] (position t predicts token t + 1), pooled over all rows: the
 *   same number as `exp(F.cross_entropy(logits[:, :-1], ids[:, 1:]))` in PyTorch.
 */
import { argmax, logSumExp } from './fidelity.js';

/** Running counts of a classification accuracy. */
export interface AccuracyState {
  samples: number;
  correct: number;
}

/** An empty accuracy counter. */
export function createAccuracy(): AccuracyState {
  return { samples: 0, correct: 0 };
}

/**
 * Adds a batch of scores [n, C] (row-major, `classes` = C) and its n labels.
 */
export function accumulateAccuracy(s: AccuracyState, scores: ArrayLike<number>, classes: number, labels: ArrayLike<number>): void {
  const n = labels.length;
  if (scores.length !== n * classes) {
    throw new RangeError(`accuracy needs one row of ${classes} scores per label: got ${scores.length} scores for ${n} labels`);
  }
  for (let i = 0; i < n; i++) if (argmax(scores, i * classes, classes) === labels[i]) s.correct++;
  s.samples += n;
}

/** The accuracy, a fraction in [0, 1] (undefined before any sample). */
export function solveAccuracy(s: AccuracyState): number | undefined {
  return s.samples === 0 ? undefined : s.correct / s.samples;
}

/** Running sums of a perplexity. */
export interface PerplexityState {
  nll: number;
  predictions: number;
}

/** An empty perplexity accumulator. */
export function createPerplexity(): PerplexityState {
  return { nll: 0, predictions: 0 };
}

/**
 * Adds a batch: `logits` [n, seq, vocab] row-major and the token ids [n, seq] that were fed.
 */
export function accumulatePerplexity(s: PerplexityState, logits: ArrayLike<number>, ids: ArrayLike<number | bigint>, n: number, seq: number, vocab: number): void {
  if (logits.length !== n * seq * vocab || ids.length !== n * seq) {
    throw new RangeError(`perplexity needs logits [${n}, ${seq}, vocab] for ids [${n}, ${seq}]: got ${logits.length} logits and ${ids.length} ids`);
  }
  for (let r = 0; r < n; r++) {
    for (let t = 0; t + 1 < seq; t++) {
      const off = (r * seq + t) * vocab;
      const next = Number(ids[r * seq + t + 1]);
      if (!(next >= 0 && next < vocab)) throw new RangeError(`token id ${next} (row ${r}, position ${t + 1}) is outside the vocabulary of ${vocab} logits`);
      s.nll += logSumExp(logits, off, vocab) - logits[off + next]!;
      s.predictions++;
    }
  }
}

/** The perplexity (undefined before any prediction). */
export function solvePerplexity(s: PerplexityState): number | undefined {
  return s.predictions === 0 ? undefined : Math.exp(s.nll / s.predictions);
}
