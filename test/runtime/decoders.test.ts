/**
 * Our executor against onnxruntime-node on decoders as torch's dynamo exporter writes them
 * (fixtures/make_decoders.py, opset 20: Range, Expand, GatherND, Where, LessOrEqual, And, bool and fp16
 * Casts, an If between first step and later steps): the with-past layout and optimum's merged layout, in
 * float32 and float16, on a first step (an empty past) and a later one (a past of 3 positions, and
 * use_cache_branch true). Every output (logits and the present keys and values) must agree within 1e-4 of
 * its scale in float32, and within 2 float16 steps of its scale in float16, where onnxruntime rounds
 * intermediates to float16 and we compute in float32.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../src/core/dtype.js';
import { mulberry32 } from '../../src/core/random.js';
import { float32ToFloat16Bits } from '../../src/core/float16.js';
import { loadModel } from '../../src/onnx/index.js';
import { Session } from '../../src/runtime/session.js';
import { decodeToNumbers, RTensor } from '../../src/runtime/value.js';
import { repoRoot } from '../helpers/repo.js';

for (const name of ['decoder_past', 'decoder_merged', 'decoder_past_fp16', 'decoder_merged_fp16']) {
  test(`our executor agrees with onnxruntime on ${name}, first step and a later one`, async (t) => {
    const path = join(repoRoot(), 'fixtures', name, 'model.onnx');
    const model = await loadModel(path);
    const fp16 = name.endsWith('fp16');
    const ours = await Session.create(model, { backend: 'wasm' });
    const theirs = await ort.InferenceSession.create(path, { logSeverityLevel: 3 });
    try {
      for (const past of [0, 3]) {
        const b = 2;
        const seq = 5;
        const rand = mulberry32(past + 1);
        const feeds: Record<string, RTensor> = {
          input_ids: RTensor.fromHost(DataType.INT64, [b, seq], BigInt64Array.from({ length: b * seq }, () => BigInt(Math.floor(rand() * 256)))),
          attention_mask: RTensor.fromHost(DataType.INT64, [b, past + seq], new BigInt64Array(b * (past + seq)).fill(1n)),
          position_ids: RTensor.fromHost(DataType.INT64, [b, seq], BigInt64Array.from({ length: b * seq }, (_, i) => BigInt(past + (i % seq)))),
        };
        if (model.graph.value('use_cache_branch')) feeds.use_cache_branch = RTensor.fromHost(DataType.BOOL, [1], Uint8Array.from([past > 0 ? 1 : 0]));
        for (const v of model.graph.inputs.filter((i) => i.name.startsWith('past_key_values'))) {
          const values = Array.from({ length: b * 2 * past * 16 }, () => rand() * 2 - 1);
          feeds[v.name] = fp16
            ? RTensor.fromHost(DataType.FLOAT16, [b, 2, past, 16], Uint16Array.from(values, float32ToFloat16Bits))
            : RTensor.fromHost(DataType.FLOAT, [b, 2, past, 16], Float32Array.from(values));
        }
        const ortFeeds: Record<string, ort.Tensor> = {};
        for (const [k, v] of Object.entries(feeds)) {
          const type = v.dataType === DataType.INT64 ? 'int64' : v.dataType === DataType.BOOL ? 'bool' : fp16 ? 'float16' : 'float32';
          ortFeeds[k] = new ort.Tensor(type, v.host() as Float32Array, v.dims);
        }
        const ref = await theirs.run(ortFeeds);
        const out = ours.runSync(feeds);
        for (const [k, r] of Object.entries(ref)) {
          const mine = out.get(k)!;
          assert.deepEqual(mine.dims, Array.from(r.dims, Number), `${name} past ${past}: ${k} dims`);
          const a = mine.numbers();
          const want = r.type === 'float16' ? decodeToNumbers(DataType.FLOAT16, r.data as Uint16Array) : Array.from(r.data as Float32Array);
          let diff = 0;
          let scale = 0;
          for (let i = 0; i < want.length; i++) {
            diff = Math.max(diff, Math.abs(a[i]! - want[i]!));
            scale = Math.max(scale, Math.abs(want[i]!));
          }
          const tol = fp16 ? 2 * 2 ** -10 : 1e-4;
          t.diagnostic(`past ${past} ${k}: max |diff| ${diff.toExponential(2)}, scale ${scale.toExponential(2)}`);
          assert.ok(diff <= tol * Math.max(scale, 1e-2), `${name} past ${past}: ${k} differs by ${diff} (scale ${scale})`);
        }
        for (const v of out.values()) v.dispose();
      }
    } finally {
      ours.dispose();
      await theirs.release();
    }
  });
}
