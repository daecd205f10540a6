import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttr } from '../../../src/ir/attribute.js';
import type { Model } from '../../../src/ir/model.js';
import { noProgress, silentLogger } from '../../../src/core/logger.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { findSites, rewriteSite, spatialMatrix, weightMatrix } from '../../../src/passes/svd/pass.js';
import { spectrumOf, type FactorKind } from '../../../src/passes/svd/solve.js';
import { svd } from '../../../src/passes/svd/index.js';
import { NothingToDoError, NumericsError, UsageError } from '../../../src/core/errors.js';
import { convModel, gemmModel, maxAbsDiff, mlpModel, randn, runOrt } from './helpers.js';

const ctx = { logger: silentLogger, progress: noProgress };

/** Rewrites every site at full rank (or `rank`) with the given Conv factorization. */
function factorAll(model: Model, conv: FactorKind = 'channel', rank?: number): void {
  for (const site of findSites(model).sites) {
    let s;
    if (site.op === 'Conv' && conv === 'spatial') {
      const [M, C, kh, kw] = site.tensor.dims as [number, number, number, number];
      s = spectrumOf('spatial', spatialMatrix(site.tensor), C * kh, M * kw, site.params);
    } else s = spectrumOf(site.op === 'Conv' ? 'channel' : 'matrix', weightMatrix(site), site.K, site.N, site.params);
    rewriteSite(model, { site, spectrum: s, rank: rank ?? s.svd.k, activationAware: false });
  }
}

async function sameOutputs(make: () => Model, feeds: Record<string, { data: Float32Array; dims: number[] }>, conv: FactorKind = 'channel', nodesAfter?: number): Promise<number> {
  const ref = await runOrt(make(), feeds);
  const m = make();
  factorAll(m, conv);
  if (nodesAfter !== undefined) assert.equal(m.graph.nodes.length, nodesAfter);
  const got = await runOrt(m, feeds);
  assert.deepEqual(got.dims, ref.dims);
  return maxAbsDiff(got.data, ref.data);
}

test('MatMul at full rank: two MatMuls each, outputs equal in onnxruntime', async () => {
  await initBackend('auto');
  const d = await sameOutputs(() => mlpModel(12, 8, 5, 1), { x: { data: randn(4 * 12, 2), dims: [4, 12] } }, 'channel', 5);
  assert.ok(d < 1e-4, `max abs diff ${d}`);
});

for (const o of [
  { transA: false, transB: false, alpha: 1, beta: 1 },
  { transA: false, transB: true, alpha: 0.5, beta: 2 },
  { transA: true, transB: true, alpha: 1.5, beta: 0.25 },
  { transA: true, transB: false, alpha: -1, beta: 1, opset: 9 },
]) {
  test(`Gemm ${JSON.stringify(o)} at full rank keeps bias, transB, alpha and beta: outputs equal`, async () => {
    await initBackend('auto');
    const feeds = { x: { data: randn(3 * 10, 4), dims: o.transA ? [10, 3] : [3, 10] } };
    const d = await sameOutputs(() => gemmModel(3, 10, 7, 3, o), feeds);
    assert.ok(d < 1e-4, `max abs diff ${d}`);
  });
}

for (const kind of ['channel', 'spatial'] as const) {
  for (const attrs of [
    [makeAttr('pads', [1, 1, 1, 1])],
    [makeAttr('pads', [0, 2, 1, 0]), makeAttr('strides', [2, 1]), makeAttr('dilations', [1, 2])],
    [makeAttr('auto_pad', 'VALID'), makeAttr('strides', [1, 2])],
  ]) {
    test(`Conv ${kind} SVD at full rank with ${attrs.map((a) => `${a.name}=${JSON.stringify(a.value)}`).join(' ')}: outputs equal`, async () => {
      await initBackend('auto');
      const feeds = { x: { data: randn(2 * 3 * 9 * 10, 5), dims: [2, 3, 9, 10] } };
      const d = await sameOutputs(() => convModel(6, 3, 3, 3, 7, attrs), feeds, kind, 2);
      assert.ok(d < 1e-4, `max abs diff ${d}`);
    });
  }
}

test('--rank and --per-layer --ratio: parameters per layer as asked, only where r (K + N) < K N', async () => {
  const m = mlpModel(64, 48, 10, 11);
  const r = await svd(m, { rank: 8, keepHead: false }, ctx);
  // mm1: 8 (64 + 48) = 896 < 3072; mm2: 8 (48 + 10) = 464 < 480.
  assert.deepEqual(r.layers.map((l) => [l.rank, l.params, l.paramsBefore]), [[8, 896, 3072], [8, 464, 480]]);
  assert.equal(m.graph.nodes.filter((n) => n.opType === 'MatMul').length, 4);
  assert.equal(m.graph.initializers.reduce((s, v) => s + v.initializer!.size, 0), 896 + 464);

  const m2 = mlpModel(64, 48, 10, 11);
  const r2 = await svd(m2, { ratio: 0.25, perLayer: true, keepHead: false }, ctx);
  // mm1: floor(0.25 * 3072 / 112) = 6 -> 672 params (<= 25 %); mm2: floor(0.25 * 480 / 58) = 2 -> 116.
  assert.deepEqual(r2.layers.map((l) => [l.rank, l.params]), [[6, 672], [2, 116]]);
  for (const l of r2.layers) assert.ok(l.params <= 0.25 * Number(l.paramsBefore));

  const m3 = mlpModel(64, 48, 10, 11);
  const r3 = await svd(m3, { rank: 9, keepHead: false }, ctx);
  // mm2 at rank 9 would need 522 >= 480 parameters: left whole, and the report says why.
  assert.deepEqual(r3.layers.map((l) => l.factorization ?? l.skipped), ['matrix', 'rank 9 would not save parameters (522 >= 480)']);
  assert.equal(m3.graph.nodes.filter((n) => n.opType === 'MatMul').length, 3);
});

test('--energy keeps the asked share of squared singular values; the error reported is the tail share', async () => {
  const m = mlpModel(40, 30, 20, 5);
  const r = await svd(m, { energy: 0.8, keepHead: false }, ctx);
  assert.equal(r.layers.filter((l) => l.rank !== undefined).length, 2);
  for (const l of r.layers) assert.ok(Number(l.error) <= 0.2 + 1e-9 && Number(l.error) > 0.05, `error ${l.error}`);
});

test('--budget: the factorizable weights end within the parameter budget, the kept head counted as kept', async () => {
  const m = mlpModel(64, 48, 10, 11);
  const total = 64 * 48 + 48 * 10;
  const r = await svd(m, { budget: Math.round(total * 0.4) }, ctx);
  const after = m.graph.initializers.reduce((s, v) => s + v.initializer!.size, 0);
  assert.ok(after <= total * 0.4, `${after} > ${total * 0.4}`);
  // mm2 (the head, 480) stays whole; mm1 takes what is left at 112 per rank: rank 8.
  assert.deepEqual(r.layers.map((l) => l.rank ?? l.skipped), [8, 'output head kept (--no-keep-head to factorize it)']);
  assert.equal(r.plan.params.after, after);
  assert.deepEqual(r.plan.target, { unit: 'params', pool: total, allowed: Math.round(total * 0.4) - 480, sensitivity: 'spectra' });
  await assert.rejects(() => svd(mlpModel(64, 48, 10, 11), { budget: 500 }, ctx), (e: unknown) => e instanceof NumericsError && /rank 1 in each takes 112/.test(e.message));
});

test('--ratio is a whole-model share: the weights end at most that share, ranks spread by the spectra', async () => {
  const m = mlpModel(64, 48, 10, 11);
  const r = await svd(m, { ratio: 0.25, keepHead: false }, ctx);
  const after = m.graph.initializers.reduce((s, v) => s + v.initializer!.size, 0);
  assert.ok(after <= 0.25 * 3552 && after > 0.25 * 3552 - 112, `weights ${after}`);
  assert.equal(r.plan.params.after, after);
  assert.ok(r.layers.some((l) => l.rank !== undefined));
  await assert.rejects(() => svd(mlpModel(64, 48, 10, 11), { ratio: 0.25, perLayer: true, budget: 100 }, ctx), UsageError);
});

test('nothing to factorize: NothingToDoError with one line naming why, the model untouched', async () => {
  const m = mlpModel(64, 48, 10, 11);
  await assert.rejects(
    () => svd(m, { ratio: 1 }, ctx),
    (e: unknown) => e instanceof NothingToDoError && e.message === 'nothing to factorize: none of the 2 MatMul/Gemm/Conv weights can be: 1 the target is met with this layer whole (MatMul); 1 output head kept (--no-keep-head to factorize it) (MatMul)',
  );
  await assert.rejects(() => svd(m, { rank: 4, exclude: 'mm' }, ctx), (e: unknown) => e instanceof NothingToDoError && /2 excluded by --exclude \(MatMul\)/.test(e.message));
  assert.equal(m.graph.nodes.length, 3);
});

test('--exclude, --dry-run and conflicting options', async () => {
  const m = mlpModel(64, 48, 10, 11);
  const r = await svd(m, { rank: 4, exclude: '^mm2$', dryRun: true }, ctx);
  assert.equal(r.modified, false);
  assert.deepEqual(r.layers.map((l) => [l.name, l.rank ?? l.skipped]), [['mm1', 4], ['mm2', 'excluded by --exclude']]);
  assert.equal(m.graph.nodes.length, 3);
  await assert.rejects(() => svd(m, { rank: 4, ratio: 0.5 }, ctx), UsageError);
  await assert.rejects(() => svd(m, { ratio: 1.5 }, ctx), UsageError);
});

test('fixtures/cnn --energy 0.9: Convs split (spatial where it saves more), the model runs in onnxruntime', async () => {
  const { loadModel } = await import('../../../src/onnx/index.js');
  const { readNpy } = await import('../../../src/calibration/readers/npy.js');
  const { accuracy, outputsOf } = await import('./helpers.js');
  const m = await loadModel('fixtures/cnn/model.onnx');
  const convs = m.graph.nodes.filter((n) => n.opType === 'Conv').length;
  const r = await svd(m, { energy: 0.9 }, ctx);
  const split = r.layers.filter((l) => l.op === 'Conv' && l.rank !== undefined);
  assert.ok(split.some((l) => l.factorization === 'spatial'));
  assert.equal(m.graph.nodes.filter((n) => n.opType === 'Conv').length, convs + split.length);
  const params = m.graph.initializers.reduce((s, v) => s + v.initializer!.size, 0);
  assert.ok(params < 0.6 * 24074, `params ${params}`);
  for (const l of r.layers) if (l.rank !== undefined) assert.ok(Number(l.error) <= 0.1 + 1e-9);
  assert.equal(r.layers.find((l) => l.op === 'Gemm')?.skipped, 'output head kept (--no-keep-head to factorize it)');
  const x = readNpy('fixtures/cnn/data/test_x.npy');
  const o = await outputsOf(m, 'input', x);
  const acc = accuracy(o.data, o.dims[1]!, readNpy('fixtures/cnn/data/test_y.npy').data as ArrayLike<number | bigint>);
  assert.ok(acc > 0.6, `accuracy ${acc}`);
});
