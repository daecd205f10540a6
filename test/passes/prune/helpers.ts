/**
 * Shared helpers of the prune tests: where the fixtures are, and perplexity / data batches of fixtures/lm
 * measured in onnxruntime-node.
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { HostArray } from '../../../src/calibration/readers/npy.js';
import type { Model } from '../../../src/ir/model.js';
import { serializeModel } from '../../../src/onnx/index.js';
export { batches } from '../../helpers/data.js';
import { repoRoot } from '../../helpers/repo.js';

/** Absolute path under fixtures/ (compiled tests live in .build/<name>/test or dist/test). */
export function fixture(...parts: string[]): string {
  return join(repoRoot(), 'fixtures', ...parts);
}

/** Perplexity of next-token predictions (exp of the mean NLL of tokens 1..T-1 of each row) in onnxruntime-node. */
export async function perplexity(model: Model, x: HostArray): Promise<number> {
  const s = await ort.InferenceSession.create(serializeModel(model), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const T = x.shape[1]!;
  const data = x.data as BigInt64Array;
  let nll = 0;
  let count = 0;
  for (let st = 0; st < x.shape[0]!; st += 64) {
    const e = Math.min(x.shape[0]!, st + 64);
    const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('int64', data.slice(st * T, e * T), [e - st, T]) });
    const o = out[s.outputNames[0]!]!;
    const lg = o.data as Float32Array;
    const V = o.dims[2]!;
    for (let b = 0; b < e - st; b++) {
      for (let t = 0; t < T - 1; t++) {
        const off = (b * T + t) * V;
        let mx = -Infinity;
        for (let v = 0; v < V; v++) mx = Math.max(mx, lg[off + v]!);
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(lg[off + v]! - mx);
        const target = Number(data[(st + b) * T + t + 1]);
        nll += Math.log(z) + mx - lg[off + target]!;
        count++;
      }
    }
  }
  await s.release();
  return Math.exp(nll / count);
}

/** A context that drops log lines and progress. */
export const quiet = { logger: { debug() {}, info() {}, warn() {} }, progress: { start: () => ({ tick() {}, setTotal() {}, done() {} }) } };
