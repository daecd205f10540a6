import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../../src/runtime/backend.js';
import { AdamW, clipByGlobalNorm, defaultWarmup, learningRate, Rng, shuffled } from '../../../src/passes/distill/train.js';

test('Rng: same seed, same numbers; a saved state continues the sequence', () => {
  const a = new Rng(7);
  const b = new Rng(7);
  const xs = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b.next()));
  assert.notDeepEqual(xs, Array.from({ length: 5 }, () => new Rng(8).next()));
  const c = Rng.fromState(a.state);
  assert.deepEqual(Array.from({ length: 4 }, () => c.next()), Array.from({ length: 4 }, () => a.next()));
  for (const x of xs) assert.ok(x >= 0 && x < 1);
});

test('shuffled: a permutation, reproducible from the seed', () => {
  const p = shuffled(100, new Rng(3));
  assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual([...shuffled(100, new Rng(3))], [...p]);
  // Not the identity (probability 1/100! of a false failure).
  assert.ok(p.some((v, i) => v !== i));
});

test('learningRate: linear warm-up, then a half cosine to zero', () => {
  const s = { lr: 1, totalSteps: 110, warmupSteps: 10 };
  assert.equal(learningRate(0, s), 0.1);
  assert.equal(learningRate(9, s), 1);
  assert.ok(Math.abs(learningRate(10, s) - 1) < 1e-12);
  assert.ok(Math.abs(learningRate(60, s) - 0.5) < 1e-12);
  assert.ok(learningRate(109, s) < 0.001);
  assert.equal(defaultWarmup(50), 5);
  assert.equal(defaultWarmup(5000), 100);
});

test('clipByGlobalNorm scales all gradients by one factor above the limit, none below', async () => {
  await initBackend('cpu');
  const g = [tf.tensor1d([3, 0]), tf.tensor1d([0, 4])];
  const { grads, norm } = clipByGlobalNorm(g, 1);
  assert.ok(Math.abs(norm - 5) < 1e-6);
  assert.deepEqual([...grads[0]!.dataSync()].map((x) => +x.toFixed(6)), [0.6, 0]);
  assert.deepEqual([...grads[1]!.dataSync()].map((x) => +x.toFixed(6)), [0, 0.8]);
  const free = clipByGlobalNorm(g, 10);
  assert.deepEqual([...free.grads[1]!.dataSync()], [0, 4]);
  tf.dispose([...g, ...grads, ...free.grads]);
});

test('AdamW: two steps match the formulas, decay on matrices only', async () => {
  await initBackend('cpu');
  const w = tf.variable(tf.tensor2d([[1, -2]]), true, 'w_adam');
  const b = tf.variable(tf.tensor1d([0.5]), true, 'b_adam');
  const cfg = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1 };
  const opt = new AdamW(new Map<string, tf.Variable>([['w', w], ['b', b]]), cfg);
  const gw = [[0.5, 1], [-0.25, 2]];
  const gb = [[1], [3]];
  // Reference in float64.
  let wr = [1, -2];
  let br = [0.5];
  const mw = [0, 0];
  const vw = [0, 0];
  const mb = [0];
  const vb = [0];
  const lr = 0.01;
  for (let t = 1; t <= 2; t++) {
    const g1 = tf.tensor2d([gw[t - 1]!]);
    const g2 = tf.tensor1d(gb[t - 1]!);
    opt.step(new Map<string, tf.Tensor>([['w', g1], ['b', g2]]), lr);
    tf.dispose([g1, g2]);
    const upd = (p: number[], g: number[], m: number[], v: number[], decay: boolean) =>
      p.map((x, i) => {
        m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
        v[i] = 0.999 * v[i]! + 0.001 * g[i]! ** 2;
        const mh = m[i]! / (1 - 0.9 ** t);
        const vh = v[i]! / (1 - 0.999 ** t);
        return (decay ? x * (1 - lr * 0.1) : x) - (lr * mh) / (Math.sqrt(vh) + 1e-8);
      });
    wr = upd(wr, gw[t - 1]!, mw, vw, true);
    br = upd(br, gb[t - 1]!, mb, vb, false);
  }
  const wg = w.dataSync();
  const bg = b.dataSync();
  wr.forEach((x, i) => assert.ok(Math.abs(wg[i]! - x) < 1e-6, `w[${i}] ${wg[i]} vs ${x}`));
  assert.ok(Math.abs(bg[0]! - br[0]!) < 1e-6);
  assert.equal(opt.t, 2);
  opt.dispose();
  tf.dispose([w, b]);
});
