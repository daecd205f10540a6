/**
 * The distillation objective (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural
 * Network"):
 *
 *   L = alpha * T^2 * KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) * CE(s, labels) + sum_k MSE(h_k)
 *
 * The temperature T > 1 softens both distributions so the student also learns how the teacher ranks the
 * wrong classes ("dark knowledge"); the gradients of the soft term scale as 1/T^2, hence the T^2 that
 * keeps both terms comparable when T changes. Logits of any rank are read as rows over their last axis,
 * so a language model's [batch, seq, vocab] logits give a per-token loss averaged over every position.
 * The hidden-state terms (FitNets, Romero et al. 2015) match intermediate activations.
 *
 * tf functions build the loss inside the gradient tape; the host functions below measure evaluation
 * metrics on plain arrays.
 */
import { tf } from '../../runtime/backend.js';

/** Logits [..., C] as rows [N, C]. */
export function rows(x: tf.Tensor): tf.Tensor2D {
  const c = x.shape[x.shape.length - 1]!;
  return tf.reshape(x, [-1, c]) as tf.Tensor2D;
}

/** T^2 * mean over rows of KL(softmax(teacher / T) || softmax(student / T)). */
export function softTargetLoss(student: tf.Tensor, teacher: tf.Tensor, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const s = rows(student);
    const t = rows(teacher);
    const logQ = tf.logSoftmax(tf.div(s, temperature));
    const logP = tf.logSoftmax(tf.div(t, temperature));
    const kl = tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), -1);
    return tf.mul(tf.mean(kl), temperature * temperature) as tf.Scalar;
  });
}

/** Mean cross-entropy of logit rows [N, C] against integer classes [N] (int32). */
export function crossEntropy(logits: tf.Tensor, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const s = rows(logits);
    const logQ = tf.logSoftmax(s);
    const picked = tf.sum(tf.mul(logQ, tf.oneHot(labels, s.shape[1]!)), -1);
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  });
}

/** Mean squared difference. */
export function meanSquaredError(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.square(tf.sub(a, b))) as tf.Scalar);
}

/** For a language model: logits [B, S, V] and ids [B, S] -> next-token logits [B*(S-1), V] and targets. */
export function nextTokenPairs(logits: tf.Tensor, ids: tf.Tensor2D): { logits: tf.Tensor2D; targets: tf.Tensor1D } {
  return tf.tidy(() => {
    const [b, s, v] = logits.shape as [number, number, number];
    const pred = tf.reshape(tf.slice(logits, [0, 0, 0], [b, s - 1, v]), [-1, v]) as tf.Tensor2D;
    const targets = tf.reshape(tf.slice(ids, [0, 1], [b, s - 1]), [-1]) as tf.Tensor1D;
    return { logits: pred, targets };
  });
}

/** The terms of one step's loss, combined as in the module comment. */
export interface LossTerms {
  soft: tf.Scalar;
  hard?: tf.Scalar;
  hidden: tf.Scalar[];
}

/** alpha * soft + (1 - alpha) * hard + sum(hidden). Without a hard term, alpha counts as 1. */
export function combineLoss(terms: LossTerms, alpha: number): tf.Scalar {
  return tf.tidy(() => {
    let total: tf.Scalar = terms.hard ? (tf.add(tf.mul(terms.soft, alpha), tf.mul(terms.hard, 1 - alpha)) as tf.Scalar) : terms.soft;
    for (const h of terms.hidden) total = tf.add(total, h) as tf.Scalar;
    return total;
  });
}

/** Running sums for evaluation metrics, on the host. */
export interface EvalState {
  /** Rows seen (samples, or predicted tokens for an LM). */
  count: number;
  /** Correct top-1 predictions (classification with labels). */
  correct: number;
  /** Sum of KL(teacher || student) per row, at temperature 1. */
  kl: number;
  /** Sum of next-token negative log-likelihoods (LM). */
  nll: number;
}

/** An empty EvalState. */
export function createEval(): EvalState {
  return { count: 0, correct: 0, kl: 0, nll: 0 };
}

function logSoftmaxRow(a: ArrayLike<number>, off: number, n: number, out: Float64Array): void {
  let max = -Infinity;
  for (let j = 0; j < n; j++) max = Math.max(max, a[off + j]!);
  let sum = 0;
  for (let j = 0; j < n; j++) sum += Math.exp(a[off + j]! - max);
  const lse = max + Math.log(sum);
  for (let j = 0; j < n; j++) out[j] = a[off + j]! - lse;
}

/** Adds top-1 hits of logit rows [n, c] against `labels`. */
export function accumulateAccuracy(s: EvalState, logits: ArrayLike<number>, c: number, labels: ArrayLike<number>): void {
  const n = labels.length;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (logits[i * c + j]! > logits[i * c + best]!) best = j;
    if (best === labels[i]) s.correct += 1;
  }
  s.count += n;
}

/** Adds KL(softmax(teacher) || softmax(student)) of each of `n` rows of width c. */
export function accumulateKl(s: EvalState, student: ArrayLike<number>, teacher: ArrayLike<number>, n: number, c: number): void {
  const lq = new Float64Array(c);
  const lp = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    logSoftmaxRow(student, i * c, c, lq);
    logSoftmaxRow(teacher, i * c, c, lp);
    let kl = 0;
    for (let j = 0; j < c; j++) kl += Math.exp(lp[j]!) * (lp[j]! - lq[j]!);
    s.kl += kl;
  }
  s.count += n;
}

/** Adds the next-token NLLs of LM logits [b, seq, v] for ids [b, seq]. */
export function accumulateNll(s: EvalState, logits: ArrayLike<number>, ids: ArrayLike<number | bigint>, b: number, seq: number, v: number): void {
  const lq = new Float64Array(v);
  for (let i = 0; i < b; i++) {
    for (let t = 0; t < seq - 1; t++) {
      logSoftmaxRow(logits, (i * seq + t) * v, v, lq);
      s.nll -= lq[Number(ids[i * seq + t + 1]!)]!;
      s.count += 1;
    }
  }
}

/** Metrics of an EvalState: accuracy, mean KL, perplexity (only those accumulated). */
export function solveEval(s: EvalState, kind: 'accuracy' | 'kl' | 'perplexity'): number {
  if (s.count === 0) return NaN;
  if (kind === 'accuracy') return s.correct / s.count;
  if (kind === 'kl') return s.kl / s.count;
  return Math.exp(s.nll / s.count);
}
