/**
 * Weight roles on decoders as exporters publish them (fixtures/decoder_past, decoder_merged): the
 * projections that feed only the present key/value outputs are body layers; the one output head is the
 * projection to the logits; the embedding table is the Gather's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { findWeights, isCacheOutput } from '../../src/ir/weights.js';
import { loadModel } from '../../src/onnx/index.js';
import { repoRoot } from '../helpers/repo.js';

test('a decoder with present outputs has one head, the logits projection; k/v projections are body layers', async () => {
  const model = await loadModel(join(repoRoot(), 'fixtures', 'decoder_past', 'model.onnx'));
  assert.deepEqual(model.graph.outputs.map(isCacheOutput), [false, true, true, true, true]);
  const { sites } = findWeights(model);
  const roles = (role: string) => sites.filter((s) => s.role === role);
  assert.equal(sites.length, 16, '14 projections, the head and the embedding');
  assert.deepEqual(roles('embedding').map((s) => s.op), ['Gather']);
  const heads = roles('head');
  assert.equal(heads.length, 1);
  assert.deepEqual(heads[0]!.tensor.dims, [64, 256], 'the [d, vocab] projection to the logits');
  assert.equal(roles('body').length, 14);
});
