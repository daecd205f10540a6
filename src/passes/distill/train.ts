/**
 * The optimiser side of distillation, as small pure pieces the pass wires together:
 *
 * - `Rng`: a seeded generator whose whole state is one 32-bit number (mulberry32), so a checkpoint can
 *   store it in JSON and a resumed run draws exactly the numbers an uninterrupted run would;
 * - `shuffled`: a Fisher-Yates permutation of the samples for one epoch;
 * - `learningRate`: linear warm-up, then cosine decay to zero (Loshchilov & Hutter 2017, "SGDR"; the
 *   warm-up as in Goyal et al. 2017) — a few warm-up steps keep Adam's first, noisy moment estimates from
 *   throwing the weights far away;
 * - `clipByGlobalNorm`: rescales all gradients together when their joint L2 norm exceeds a limit
 *   (Pascanu et al. 2013), which keeps the direction and only caps the step;
 * - `AdamW`: Adam (Kingma & Ba 2015) with decoupled weight decay (Loshchilov & Hutter 2019, "Decoupled
 *   Weight Decay Regularization"): the decay shrinks the weight directly, w -= lr * wd * w, instead of
 *   being added to the gradient where Adam's per-weight scaling would weaken it for large gradients.
 */
import { tf } from '../../runtime/backend.js';

/** Seeded pseudo-random numbers (mulberry32); `state` is everything needed to continue the sequence. */
export class Rng {
  state: number;

  constructor(seed: number) {
    // Mix the seed once so that nearby seeds (0, 1, 2) start far apart.
    this.state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ 0x5bd1e995) >>> 0;
  }

  /** A generator continuing from a saved `state`. */
  static fromState(state: number): Rng {
    const r = new Rng(0);
    r.state = state >>> 0;
    return r;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = Math.max(this.next(), 1e-12);
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/** A random permutation of 0..n-1 (Fisher-Yates), drawn from `rng`. */
export function shuffled(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** The schedule of `learningRate`. */
export interface Schedule {
  /** Peak learning rate. */
  lr: number;
  /** Optimiser steps in the whole run. */
  totalSteps: number;
  /** Steps of linear warm-up from lr / warmup to lr. */
  warmupSteps: number;
}

/** Warm-up steps for a run: a tenth of it, at most 100 (enough for Adam's moments to settle). */
export function defaultWarmup(totalSteps: number): number {
  return Math.min(100, Math.ceil(totalSteps * 0.1));
}

/** The learning rate of step `step` (0-based): linear warm-up, then a half cosine down to zero. */
export function learningRate(step: number, s: Schedule): number {
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  const decaySteps = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / decaySteps);
  return 0.5 * s.lr * (1 + Math.cos(Math.PI * progress));
}

/**
 * Rescales gradients so that their joint L2 norm is at most `maxNorm` (no change below it). Returns the
 * new gradients (tfjs tensors the caller owns) and the norm before clipping.
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: number } {
  const sq = tf.tidy(() => tf.addN(grads.map((g) => tf.sum(tf.square(g)))));
  const norm = Math.sqrt(sq.dataSync()[0]!);
  sq.dispose();
  if (!(maxNorm > 0) || norm <= maxNorm || !Number.isFinite(norm)) return { grads: grads.map((g) => tf.clone(g)), norm };
  const scale = maxNorm / norm;
  return { grads: grads.map((g) => tf.mul(g, scale)), norm };
}

/** AdamW hyper-parameters. */
export interface AdamWConfig {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Decoupled weight decay, applied to tensors of rank >= 2 only (not to biases and norm scales). */
  weightDecay: number;
}

/** The defaults of PyTorch's AdamW. */
export const defaultAdamW: AdamWConfig = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 };

/** Adam with decoupled weight decay over named tf.Variables; moments live in tf.Variables too. */
export class AdamW {
  /** Steps taken (the bias corrections use it). */
  t = 0;
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();

  constructor(
    readonly params: Map<string, tf.Variable>,
    readonly config: AdamWConfig = defaultAdamW,
  ) {
    for (const [name, p] of params) {
      this.m.set(name, tf.variable(tf.zerosLike(p), false));
      this.v.set(name, tf.variable(tf.zerosLike(p), false));
    }
  }

  /** One update with learning rate `lr`; `grads` by parameter name (absent: no gradient this step). */
  step(grads: Map<string, tf.Tensor>, lr: number): void {
    this.t += 1;
    const { beta1, beta2, epsilon, weightDecay } = this.config;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const g = grads.get(name);
        if (!g) continue;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        m.assign(m1);
        v.assign(v1);
        const update = tf.div(tf.div(m1, c1), tf.add(tf.sqrt(tf.div(v1, c2)), epsilon));
        const decayed = weightDecay > 0 && p.rank >= 2 ? tf.mul(p, 1 - lr * weightDecay) : p;
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
      }
    });
  }

  /** Frees the moment variables (not the parameters). */
  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
    this.m.clear();
    this.v.clear();
  }
}
