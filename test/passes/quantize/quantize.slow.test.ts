/**
 * Quality of `quantize` on real models, measured in onnxruntime-node on held-out data (docs/quantize.md
 * records the numbers). Slow: run with `npm run test:slow`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultContext } from '../../../src/core/logger.js';
import { loadModel, serializeModel } from '../../../src/onnx/index.js';
import { parseQuantizeOptions, quantize } from '../../../src/passes/quantize/index.js';
import { accuracy, batchesOf, ctcDecode, logitsOf, perplexity, readNpy, rows, sequenceAgreement, textLines } from './quality.js';

const here = dirname(fileURLToPath(import.meta.url));
// Compiled tests live in .build/<name>/test/...; the sources (fixtures, data) in the checkout.
const root = (() => {
  let d = here;
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d.includes('/.build/') ? d.slice(0, d.indexOf('/.build/')) : d;
})();
const fixtures = join(root, 'fixtures');
const dataDir = join(root, 'test', 'passes', 'quantize', 'data');

async function quantized(path: string, raw: Record<string, unknown>, data?: Iterable<Record<string, never>> | ReturnType<typeof batchesOf>): Promise<Uint8Array> {
  const m = await loadModel(path);
  await quantize(m, parseQuantizeOptions(raw), { ...defaultContext, data: data as ReturnType<typeof batchesOf> | undefined });
  return serializeModel(m);
}

for (const name of ['mlp', 'cnn']) {
  test(`${name}: int8 static loses at most 1 point; int8 weight-only and dynamic too; sizes`, async (t) => {
    const dir = join(fixtures, name);
    const path = join(dir, 'model.onnx');
    const input = (await loadModel(path)).graph.inputs[0]!.name;
    const calib = readNpy(join(dir, 'data', 'calib_x.npy'));
    const x = readNpy(join(dir, 'data', 'test_x.npy'));
    const y = readNpy(join(dir, 'data', 'test_y.npy')).data as BigInt64Array;
    const orig = readFileSync(path);
    const base = accuracy((await logitsOf(orig, input, x)).data, 10, y);
    t.diagnostic(`${name} float: accuracy ${base}`);
    const runs: [string, Record<string, unknown>, boolean][] = [
      ['static minmax', { calibration: 'minmax' }, true],
      ['static percentile', { calibration: 'percentile' }, true],
      ['static entropy', { calibration: 'entropy' }, true],
      ['static mse', { calibration: 'mse' }, true],
      ['weight-only int8', { weightOnly: true }, false],
      ['dynamic int8', { dynamic: true }, false],
    ];
    for (const [label, raw, calibrated] of runs) {
      const bytes = await quantized(path, raw, calibrated ? batchesOf(calib, input, 32) : undefined);
      const acc = accuracy((await logitsOf(bytes, input, x)).data, 10, y);
      const ratio = bytes.length / orig.length;
      t.diagnostic(`${name} ${label}: accuracy ${acc} (drop ${((base - acc) * 100).toFixed(2)} points), size ${ratio.toFixed(3)}x`);
      // Entropy (KL) ranges clip the CNN's heavy-tailed BatchNorm output; it is reported, and held to 3 points.
      const limit = label === 'static entropy' ? 0.03 : 0.01;
      assert.ok(base - acc <= limit, `${name} ${label}: accuracy ${acc} vs float ${base}`);
      if (name === 'mlp') assert.ok(ratio <= 0.27, `${name} ${label}: size ratio ${ratio}`);
    }
  });
}

test('lm: int4 weight-only raises perplexity by at most 10 %; int4 <= 0.16x and int8 <= 0.27x on disk', async (t) => {
  const dir = join(fixtures, 'lm');
  const path = join(dir, 'model.onnx');
  const input = (await loadModel(path)).graph.inputs[0]!.name;
  const test = readNpy(join(dir, 'data', 'test_x.npy'));
  const ids = test.data as BigInt64Array;
  const orig = readFileSync(path);
  const logits = await logitsOf(orig, input, test, 16);
  const base = perplexity(logits.data, logits.dims, ids);
  t.diagnostic(`lm float: perplexity ${base.toFixed(3)}`);
  for (const [label, raw] of [
    ['int4 g128', { bits: 4 }],
    ['int4 g32', { bits: 4, groupSize: 32 }],
    ['int4 g32 all layers', { bits: 4, groupSize: 32, keepSensitive: false }],
    ['int4 g128 all layers', { bits: 4, keepSensitive: false }],
    ['int8 weight-only', { weightOnly: true }],
  ] as const) {
    const bytes = await quantized(path, raw);
    const q = await logitsOf(bytes, input, test, 16);
    const ppl = perplexity(q.data, q.dims, ids);
    const ratio = bytes.length / statSync(path).size;
    t.diagnostic(`lm ${label}: perplexity ${ppl.toFixed(3)} (+${((ppl / base - 1) * 100).toFixed(2)} %), size ${ratio.toFixed(3)}x`);
    if (label === 'int4 g32' || label === 'int4 g128') assert.ok(ppl <= base * 1.1, `${label}: perplexity ${ppl} vs ${base}`);
    if (label === 'int8 weight-only') assert.ok(ratio <= 0.27, `int8 size ratio ${ratio}`);
    if (label === 'int4 g128 all layers') assert.ok(ratio <= 0.16, `int4 size ratio ${ratio}`);
  }
});

test('ppocr-rec-v4: agreement with the float model on printed text lines', async (t) => {
  const path = join(root, '.cache', 'models', 'ppocr-rec-v4.onnx');
  assert.ok(existsSync(path), 'run node scripts/fetch-models.mjs first');
  const orig = readFileSync(path);
  const lines = textLines(dataDir);
  // Lines 0..31 are evaluated, 32..47 calibrate the static run.
  const x = rows(lines.x, 0, 32);
  const calib = rows(lines.x, 32, 48);
  const ref = await logitsOf(orig, 'x', x, 8);
  const refSeq = ctcDecode(ref.data, ref.dims);
  for (const [label, raw, calibrated] of [
    ['int8 weight-only', { weightOnly: true }, false],
    ['int4 weight-only', { bits: 4 }, false],
    ['int8 dynamic', { dynamic: true }, false],
    ['int8 static minmax', { calibration: 'minmax' }, true],
    ['int8 static entropy', { calibration: 'entropy' }, true],
    ['int8 static mse', { calibration: 'mse' }, true],
    ['int8 static percentile', { calibration: 'percentile' }, true],
  ] as const) {
    const bytes = await quantized(path, raw, calibrated ? batchesOf(calib, 'x', 4) : undefined);
    const q = await logitsOf(bytes, 'x', x, 8);
    const agree = sequenceAgreement(ctcDecode(q.data, q.dims), refSeq);
    t.diagnostic(`ppocr-rec-v4 ${label}: line agreement ${agree.toFixed(3)}, size ${(bytes.length / orig.length).toFixed(3)}x`);
    // The default static calibration (min/max) and the weight-only and dynamic runs must agree on >= 90 %
    // of the lines; the other observers are reported (16 calibration lines are few for tail statistics).
    if (!label.startsWith('int8 static') || label === 'int8 static minmax') assert.ok(agree >= 0.9, `${label}: agreement ${agree}`);
  }
});
