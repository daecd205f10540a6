/**
 * fixtures/lm at 50 % sparsity: perplexity measured in onnxruntime-node on data/test_x.npy, calibration on
 * data/calib_x.npy. The numbers are recorded in docs/prune.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readNpy } from '../../../src/calibration/readers/npy.js';
import { loadModel } from '../../../src/onnx/index.js';
import { prune } from '../../../src/passes/prune/index.js';
import { batches, fixture, perplexity, quiet } from './helpers.js';

const calib = readNpy(fixture('lm', 'data', 'calib_x.npy'));
const testX = readNpy(fixture('lm', 'data', 'test_x.npy'));
const data = batches(calib, 'input', 32, 64);

type LayerReport = import('../../../src/report/schema.js').LayerReport;

/** Prunes fixtures/lm: the pruned layers' rows, and those left dense (`skipped`) apart. */
async function pruned(options: Record<string, unknown>): Promise<{ ppl: number; layers: LayerReport[]; skipped: LayerReport[]; report: Record<string, unknown>; model: import('../../../src/ir/model.js').Model }> {
  const model = await loadModel(fixture('lm', 'model.onnx'));
  const r = await prune(model, options, { ...quiet, data });
  const layers = r.layers.filter((l) => !l.skipped);
  const skipped = r.layers.filter((l) => l.skipped);
  return { ppl: await perplexity(model, testX), layers, skipped, report: r.report.pruning as Record<string, unknown>, model };
}

/** The 50 % unstructured runs, shared by the tests below (computed once). */
const fifty = (async () => {
  const dense = await perplexity(await loadModel(fixture('lm', 'model.onnx')), testX);
  const mag = await pruned({ method: 'magnitude', sparsity: 0.5 });
  const wanda = await pruned({ method: 'wanda', sparsity: 0.5 });
  const plain = await pruned({ method: 'wanda', sparsity: 0.5, biasCorrection: false });
  const sgpt = await pruned({ method: 'sparsegpt', sparsity: 0.5 });
  const line = `dense ${dense.toFixed(3)}, magnitude ${mag.ppl.toFixed(3)}, wanda ${wanda.ppl.toFixed(3)} (without bias correction ${plain.ppl.toFixed(3)}), sparsegpt ${sgpt.ppl.toFixed(3)}`;
  return { dense, mag, wanda, plain, sgpt, line };
})();

test("fixtures/lm, 50% unstructured: SparseGPT beats magnitude; bias correction lowers Wanda's perplexity", async (t) => {
  const { dense, mag, wanda, plain, sgpt, line } = await fifty;
  t.diagnostic(`perplexity at 50% (64 calibration samples): ${line}`);
  assert.ok(Math.abs(dense - 47.654) < 0.05, `dense perplexity as fixtures/metrics.json says (${line})`);
  assert.equal(mag.layers.length, 12, 'q, k, v, proj, fc1, fc2 of both blocks; the head stays dense');
  assert.deepEqual(
    mag.skipped.map((l) => [l.name, l.skipped]),
    [['/head/MatMul', 'output head: kept dense by default (--no-keep-sensitive prunes it)']],
    'the head is in the layers, with why it was left dense',
  );
  for (const r of [mag, wanda, plain, sgpt]) {
    assert.deepEqual(r.layers.map((l) => l.name), mag.layers.map((l) => l.name), 'every method prunes the same layers');
    for (const l of r.layers) assert.ok(Math.abs(l.sparsity! - 0.5) < 1e-3, `${l.name}: sparsity ${l.sparsity}`);
    assert.equal(r.report.masks, 'zeros');
  }
  assert.ok(sgpt.ppl < mag.ppl, `SparseGPT < magnitude: ${line}`);
  assert.ok(sgpt.ppl < dense * 1.03, `SparseGPT within 3% of dense: ${line}`);
  // Wanda's mask is the reference's (checked mask for mask against locuslab/wanda's prune_wanda, docs/prune.md).
  // Its loss comes mostly from blocks.1/fc2, whose GELU inputs share a large mean: the pruned weights move
  // every output by (W - Ŵ) E[x]. Bias correction (on by default for Wanda) puts that back into the bias.
  assert.equal(wanda.report.biasCorrection, true);
  assert.equal(plain.report.biasCorrection, false);
  for (const l of wanda.layers) assert.match(String((l.biasCorrection as { into: string }).into), /^Add \/blocks\.\d\/\w+\/Add$/, `${l.name}: corrected in its own bias Add`);
  const fc2 = wanda.layers.find((l) => l.name === '/blocks.1/fc2/MatMul')!;
  const shifts = wanda.layers.map((l) => (l.biasCorrection as { shiftRms: number }).shiftRms);
  assert.equal((fc2.biasCorrection as { shiftRms: number }).shiftRms, Math.max(...shifts), 'blocks.1/fc2 has the largest mean shift');
  assert.ok(wanda.ppl < plain.ppl - 0.3, `bias correction lowers Wanda's perplexity by more than 0.3: ${line}`);
  assert.ok(wanda.ppl < dense * 1.05, `Wanda within 5% of dense: ${line}`);
  // Issue #6 asks for Wanda below magnitude here; it is not (magnitude 48.66, Wanda 49.28 on all of
  // calib_x), and the reference implementation gives the same masks and perplexity: docs/prune.md.
  t.diagnostic(`Wanda - magnitude: ${(wanda.ppl - mag.ppl).toFixed(3)} (issue #6 wants < 0; not met, see docs/prune.md)`);
});

test('fixtures/lm, 2:4 SparseGPT: every group of 4 inputs keeps at most 2 weights, and it is reported', async (t) => {
  const r = await pruned({ method: 'sparsegpt', pattern: '2:4' });
  const dense = 47.654;
  assert.equal(r.layers.length, 12);
  for (const l of r.layers) {
    assert.equal(l.pattern, '2:4');
    assert.ok(Math.abs(l.sparsity! - 0.5) < 1e-9, `${l.name}: ${l.sparsity}`);
    // Groups run along K, the first axis of a MatMul weight [K, N].
    const node = r.model.graph.nodes.find((n) => n.name === l.name)!;
    const t = node.input(1)!.initializer!;
    const [K, N] = t.dims as [number, number];
    const w = t.data as Float32Array;
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k += 4) {
        let nz = 0;
        for (let j = k; j < k + 4; j++) if (w[j * N + n] !== 0) nz++;
        assert.ok(nz <= 2, `${l.name} column ${n} rows ${k}..${k + 3}: ${nz} nonzeros`);
      }
    }
  }
  assert.equal(r.report.pattern, '2:4');
  t.diagnostic(`2:4 SparseGPT perplexity ${r.ppl.toFixed(2)}`);
  assert.ok(r.ppl < dense * 1.1, `2:4 SparseGPT perplexity ${r.ppl.toFixed(2)} (dense ${dense})`);
});
