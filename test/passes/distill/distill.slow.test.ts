/**
 * The quality claims of docs/distill.md, measured on the fixtures (minutes, not seconds):
 * - the MLP student distilled from the MLP teacher beats the same student trained on the labels alone,
 *   with the same budget (epochs, lr, seed, samples);
 * - a 50 %-pruned MLP recovers most of the accuracy pruning cost it;
 * - the LM student's held-out perplexity falls after distillation from the LM fixture.
 * Accuracies are measured on the first 1000 test samples, on the final weights (no --eval-data, so no
 * epoch is picked by looking at the test set).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { distill } from '../../../src/passes/distill/index.js';
import { accuracyOf, fixture, fixtures, pruneHalf, trainingContext, zeroPattern } from './helpers.js';
import { testBackend } from '../../helpers/backend.js';

const mlpX = join(fixtures, 'mlp', 'data', 'train_x.npy');
const mlpY = join(fixtures, 'mlp', 'data', 'train_y.npy');

test('MLP: the distilled student beats the same student trained on the labels alone', async () => {
  const teacher = await fixture('mlp');
  const budget = { teacher, epochs: 30, batchSize: 32, lr: 1e-2, temperature: 2, seed: 0, backend: testBackend };
  const distilled = await fixture('mlp_student');
  await distill(distilled, { ...budget, alpha: 0.9 }, trainingContext(distilled, mlpX, { labels: mlpY }));
  const labelsOnly = await fixture('mlp_student');
  await distill(labelsOnly, { ...budget, alpha: 0 }, trainingContext(labelsOnly, mlpX, { labels: mlpY }));
  const accD = await accuracyOf(distilled, 'mlp', 1000);
  const accL = await accuracyOf(labelsOnly, 'mlp', 1000);
  const accU = await accuracyOf(await fixture('mlp_student'), 'mlp', 1000);
  console.log(`mlp student: untrained ${accU}, labels only ${accL}, distilled ${accD}`);
  assert.ok(accD > accL + 0.01, `distilled ${accD} vs labels only ${accL}`);
});

test('MLP pruned to 50 %: distillation recovers most of the lost accuracy, zeros stay zero', async () => {
  const teacher = await fixture('mlp');
  const accT = await accuracyOf(teacher, 'mlp', 1000);
  const pruned = await fixture('mlp');
  pruneHalf(pruned);
  const pattern = zeroPattern(pruned);
  const accP = await accuracyOf(pruned, 'mlp', 1000);
  await distill(pruned, { teacher, epochs: 10, batchSize: 32, lr: 1e-3, temperature: 2, alpha: 0.9, backend: testBackend }, trainingContext(pruned, mlpX, { labels: mlpY }));
  const accR = await accuracyOf(pruned, 'mlp', 1000);
  console.log(`mlp 50% pruned: teacher ${accT}, pruned ${accP}, recovered ${accR}`);
  assert.deepEqual(zeroPattern(pruned), pattern);
  assert.ok(accT - accP > 0.01, `pruning should cost accuracy (teacher ${accT}, pruned ${accP})`);
  assert.ok(accR - accP > 0.5 * (accT - accP), `recovered ${accR} of ${accP} -> ${accT}`);
});

test('LM: the student\'s held-out perplexity falls after distillation', async () => {
  const teacher = await fixture('lm');
  const student = await fixture('lm_student');
  const r = await distill(
    student,
    { teacher, epochs: 1, batchSize: 32, lr: 3e-3, backend: testBackend, samples: 256, evalData: join(fixtures, 'lm', 'data', 'test_x.npy') },
    trainingContext(student, join(fixtures, 'lm', 'data', 'train_x.npy'), { samples: 256 }),
  );
  const m = r.report.metrics as { original: { perplexity: number }; compressed: { perplexity: number }; teacher: { perplexity: number } };
  console.log(`lm student perplexity: ${m.original.perplexity} -> ${m.compressed.perplexity} (teacher ${m.teacher.perplexity})`);
  assert.ok(m.compressed.perplexity < 0.5 * m.original.perplexity, JSON.stringify(m));
});
