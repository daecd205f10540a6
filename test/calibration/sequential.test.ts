import { test } from 'node:test';
import assert from 'node:assert/strict';
import { repoRoot } from '../helpers/repo.js';
import { join } from 'node:path';
import { loadModel } from '../../src/onnx/index.js';
import { openDataset } from '../../src/calibration/readers/index.js';
import { blockKey, collectHessians, findBlocks, findLinearLayers, setWeightMatrix, weightMatrix, type LinearLayer } from '../../src/calibration/sequential.js';
import { initBackend, tf } from '../../src/runtime/backend.js';
import { Session } from '../../src/runtime/session.js';
import type { RTensor } from '../../src/runtime/value.js';
import { noProgress, silentLogger } from '../../src/core/logger.js';

const root = repoRoot();
const lmPath = join(root, 'fixtures', 'lm', 'model.onnx');
const ctx = { logger: silentLogger, progress: noProgress };

async function lmData(samples: number, batch: number) {
  const model = await loadModel(lmPath);
  const ds = openDataset(join(root, 'fixtures', 'lm', 'data', 'calib_x.npy'), model, { samples });
  const data: Iterable<Record<string, RTensor>> = {
    *[Symbol.iterator]() {
      for (const b of ds.batches(batch)) yield b.feeds;
    },
  };
  return { model, data };
}

/** 2 X^T X / n of a value, computed directly by running the whole model. */
function directHessian(session: Session, data: Iterable<Record<string, RTensor>>, input: string, K: number): Float32Array {
  const g = new Float64Array(K * K);
  let n = 0;
  for (const feeds of data) {
    session.runSync(feeds, {
      observeFilter: (v) => v.name === input,
      observe: (_v, t) => {
        const x = t.float32();
        const rows = x.length / K;
        n += rows;
        for (let r = 0; r < rows; r++) for (let i = 0; i < K; i++) {
          const xi = x[r * K + i]!;
          if (xi === 0) continue;
          for (let j = 0; j < K; j++) g[i * K + j]! += xi * x[r * K + j]!;
        }
      },
    }).forEach((t) => t.dispose());
  }
  return Float32Array.from(g, (v) => (2 * v) / n);
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return m / s;
}

test('blockKey finds the numbered block of exporter names', () => {
  assert.equal(blockKey('/blocks.0/q/MatMul'), '/blocks.0');
  assert.equal(blockKey('/model/layers.11/mlp/down_proj/MatMul'), '/model/layers.11');
  assert.equal(blockKey('/transformer/h.3/attn/c_attn/MatMul'), '/transformer/h.3');
  assert.equal(blockKey('/head/MatMul'), '');
  assert.equal(blockKey('p2o.MatMul.3'), '');
  assert.equal(blockKey('node_linear_4'), '');
  assert.equal(blockKey('model.model.layers.0.self_attn.q_proj'), 'model.model.layers.0');
});

test('findLinearLayers and findBlocks on the fixture LM', async () => {
  const model = await loadModel(lmPath);
  const { layers, skipped } = findLinearLayers(model);
  assert.equal(layers.length, 13);
  assert.deepEqual(skipped, []);
  const blocks = findBlocks(layers);
  assert.deepEqual(blocks.map((b) => [b.name, b.layers.length]), [['/blocks.0', 6], ['/blocks.1', 6], ['/head/MatMul', 1]]);
  const fc2 = layers.find((l) => l.name === '/blocks.0/fc2/MatMul')!;
  assert.equal(fc2.K, 512);
  assert.equal(fc2.N, 128);
  const ex = findLinearLayers(model, { exclude: /head/ });
  assert.equal(ex.layers.length, 12);
  assert.equal(ex.skipped.length, 1);
});

test('collectHessians: each block sees the outputs of the blocks compressed before it', async () => {
  await initBackend('auto');
  const { model, data } = await lmData(24, 8);
  const { layers } = findLinearLayers(model);
  // A visible "compression" of block 0: scale every weight by 0.5.
  const seen = new Map<string, { H: Float32Array; samples: number }>();
  const summary = await collectHessians(model, layers, data, {
    onBlock: ({ block, stats, tick }) => {
      for (const l of block.layers) {
        const acc = stats.get(l)!;
        seen.set(l.name, { H: acc.hessian(), samples: acc.samples });
        if (block.name === '/blocks.0') setWeightMatrix(l, weightMatrix(l).map((v) => v * 0.5));
        tick(l.name);
      }
    },
  }, ctx);
  assert.equal(summary.blocks, 3);
  assert.equal(summary.batches, 3);
  assert.equal(summary.samples, 24);
  assert.equal(seen.size, 13);
  assert.equal(seen.get('/blocks.0/q/MatMul')!.samples, 24 * 32);
  // q, k and v read one activation: one shared Hessian.
  assert.deepEqual(seen.get('/blocks.0/q/MatMul')!.H, seen.get('/blocks.0/v/MatMul')!.H);

  // The model now has block 0 halved: running it whole must give the Hessians block 1 and the head saw.
  const session = await Session.create(model);
  const byName = new Map<string, LinearLayer>(layers.map((l) => [l.name, l]));
  for (const name of ['/blocks.0/q/MatMul', '/blocks.0/fc2/MatMul']) {
    // Block 0 was calibrated before its own change: compare with the halved model only downstream.
    const l = byName.get(name)!;
    assert.equal(seen.get(name)!.H.length, l.K * l.K);
  }
  for (const name of ['/blocks.1/q/MatMul', '/blocks.1/fc2/MatMul', '/head/MatMul']) {
    const l = byName.get(name)!;
    const direct = directHessian(session, data, l.input.name, l.K);
    const d = maxRelDiff(seen.get(name)!.H, direct);
    assert.ok(d < 1e-4, `${name}: max relative difference ${d}`);
  }
  session.dispose();
});

test('collectHessians, not sequential: one sweep of the float model, Hessians equal the direct ones', async () => {
  await initBackend('auto');
  const { model, data } = await lmData(16, 8);
  const { layers } = findLinearLayers(model);
  const session = await Session.create(model);
  const direct = new Map(['/blocks.0/q/MatMul', '/blocks.1/fc2/MatMul'].map((n) => {
    const l = layers.find((x) => x.name === n)!;
    return [n, directHessian(session, data, l.input.name, l.K)];
  }));
  session.dispose();
  let calls = 0;
  const before = tf.memory().numTensors;
  await collectHessians(model, layers, data, {
    sequential: false,
    onBlock: ({ block, stats }) => {
      calls++;
      assert.equal(block.layers.length, 13);
      for (const [n, H] of direct) {
        const l = block.layers.find((x) => x.name === n)!;
        const d = maxRelDiff(stats.get(l)!.hessian(), H);
        assert.ok(d < 1e-4, `${n}: ${d}`);
      }
    },
  }, ctx);
  assert.equal(calls, 1);
  assert.ok(tf.memory().numTensors - before < 5, `tensors leaked: ${tf.memory().numTensors - before}`);
});
