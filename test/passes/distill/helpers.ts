/** Shared set-up of the distill tests: fixture paths, training data as the CLI hands it, a quiet context. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { noProgress, silentLogger, type Progress } from '../../../src/core/logger.js';
import type { Model } from '../../../src/ir/model.js';
import { loadLabels, openDataset } from '../../../src/calibration/readers/index.js';
import { loadModel, serializeModel } from '../../../src/onnx/index.js';
import type { DistillContext } from '../../../src/passes/distill/index.js';
import { Session } from '../../../src/runtime/session.js';
import { RTensor } from '../../../src/runtime/value.js';
import { testBackend } from '../../helpers/backend.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The checkout root (compiled tests live in .build/<name>/test/... or dist/test/...). */
export const root = (() => {
  let d = here;
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d.includes('/.build/') ? d.slice(0, d.indexOf('/.build/')) : d;
})();
export const fixtures = join(root, 'fixtures');

/** A fixture model. */
export function fixture(name: string): Promise<Model> {
  return loadModel(join(fixtures, name, 'model.onnx'));
}

/** The --data batches of a .npy for `model` (as the CLI builds them), with optional labels. */
export function trainingContext(model: Model, dataPath: string, options: { samples?: number; labels?: string; progress?: Progress } = {}): DistillContext {
  const ds = openDataset(dataPath, model, { samples: options.samples });
  const data = {
    *[Symbol.iterator]() {
      for (const b of ds.batches(64)) yield b.feeds;
    },
  };
  const ctx: DistillContext = { logger: silentLogger, progress: options.progress ?? noProgress, data };
  if (options.labels) ctx.labels = loadLabels(options.labels);
  return ctx;
}

/** Accuracy of `model` in our runtime on the first `n` samples of a fixture's test set. */
export async function accuracyOf(model: Model, dir: string, n: number): Promise<number> {
  const s = await Session.create(model, { backend: testBackend });
  const ds = openDataset(join(fixtures, dir, 'data', 'test_x.npy'), model, { samples: n });
  const labels = loadLabels(join(fixtures, dir, 'data', 'test_y.npy'));
  let correct = 0;
  for (const b of ds.batches(250)) {
    const out = s.runSync(b.feeds);
    const t = [...out.values()][0]!;
    const x = t.float32();
    const c = t.dims[1]!;
    for (let i = 0; i < b.size; i++) {
      let best = 0;
      for (let j = 1; j < c; j++) if (x[i * c + j]! > x[i * c + best]!) best = j;
      if (best === labels[b.start + i]) correct++;
    }
    for (const r of [...out.values(), ...Object.values(b.feeds)]) r.dispose();
  }
  s.dispose();
  return correct / ds.samples;
}

/** Largest |ours - onnxruntime| over the outputs of `model` on `feeds` (float inputs). */
export async function maxDiffToOrt(model: Model, name: string, dims: number[], data: Float32Array): Promise<number> {
  const ortSession = await ort.InferenceSession.create(serializeModel(model));
  const ref = await ortSession.run({ [name]: new ort.Tensor('float32', data, dims) });
  const s = await Session.create(model, { backend: testBackend });
  const ours = s.runSync({ [name]: RTensor.fromHost(1, dims, data) });
  let max = 0;
  for (const [k, t] of ours) {
    const a = t.float32();
    const b = ref[k]!.data as Float32Array;
    for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  }
  s.dispose();
  return max;
}

/** Zeroes the smallest-magnitude half of each weight matrix (a 50 % magnitude prune through the IR). */
export function pruneHalf(model: Model): number {
  let zeroed = 0;
  for (const v of model.graph.initializers) {
    const t = v.initializer!;
    if (t.dims.length < 2 || t.dataType !== 1) continue;
    const data = t.data as Float32Array;
    const sorted = Float32Array.from(data, Math.abs).sort();
    const cut = sorted[Math.floor(data.length / 2)]!;
    for (let i = 0; i < data.length; i++) {
      if (Math.abs(data[i]!) < cut) {
        data[i] = 0;
        zeroed++;
      }
    }
  }
  return zeroed;
}

/** Count of exact zeros per weight initializer (rank >= 2). */
export function zeroPattern(model: Model): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const v of model.graph.initializers) {
    const t = v.initializer!;
    if (t.dims.length < 2) continue;
    const z: number[] = [];
    (t.data as Float32Array).forEach((x, i) => x === 0 && z.push(i));
    out.set(v.name, z);
  }
  return out;
}
