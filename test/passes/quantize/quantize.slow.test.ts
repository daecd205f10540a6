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
import { parseQuantizeOptions, quantize, type FeedBatch } from '../../../src/passes/quantize/index.js';
import { RTensor } from '../../../src/runtime/value.js';
import { charAccuracy, recognize, renderedTextLines, textLineBatches } from '../../helpers/text-lines.js';
import { accuracy, batchesOf, logitsOf, perplexity, readNpy } from './quality.js';

const here = dirname(fileURLToPath(import.meta.url));
// Compiled tests live in .build/<name>/test/...; the sources (fixtures, data) in the checkout.
const root = (() => {
  let d = here;
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d.includes('/.build/') ? d.slice(0, d.indexOf('/.build/')) : d;
})();
const fixtures = join(root, 'fixtures');

async function quantized(path: string, raw: Record<string, unknown>, data?: Iterable<FeedBatch>): Promise<Uint8Array> {
  const m = await loadModel(path);
  await quantize(m, parseQuantizeOptions(raw), { ...defaultContext, data });
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
      ['static auto (default)', {}, true],
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
      assert.ok(base - acc <= 0.01, `${name} ${label}: accuracy ${acc} vs float ${base}`);
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

test('ppocr-rec-v4: character accuracy on rendered English text lines; auto (the default) beside every named method', async (t) => {
  const path = join(root, '.cache', 'models', 'ppocr-rec-v4.onnx');
  assert.ok(existsSync(path), 'run node scripts/fetch-models.mjs first');
  const orig = readFileSync(path);
  // Lines 0..31 calibrate; 32..191 are read (bench/calibration.ts measures more lines and onnxruntime's tools).
  const lines = renderedTextLines(192, 1);
  const calib = textLineBatches(lines, 0, 32, 8).map((b) => ({ x: RTensor.fromHost(1, b.x.shape, b.x.data) }));
  const truth = lines.texts.slice(32);
  const read = async (bytes: Uint8Array) => charAccuracy(await recognize(bytes, lines, 32, 192), truth);
  const base = await read(orig);
  t.diagnostic(`ppocr-rec-v4 float: char accuracy ${base.toFixed(4)}`);
  assert.ok(base >= 0.98, `float char accuracy ${base}`);
  const acc: Record<string, number> = {};
  for (const [label, raw, calibrated] of [
    ['int8 weight-only', { weightOnly: true }, false],
    ['int4 weight-only', { bits: 4 }, false],
    ['int8 dynamic', { dynamic: true }, false],
    ['int8 static auto (default)', {}, true],
    ['int8 static minmax', { calibration: 'minmax' }, true],
    ['int8 static percentile', { calibration: 'percentile' }, true],
    ['int8 static entropy', { calibration: 'entropy' }, true],
    ['int8 static mse', { calibration: 'mse' }, true],
  ] as const) {
    const bytes = await quantized(path, raw, calibrated ? calib : undefined);
    acc[label] = await read(bytes);
    t.diagnostic(`ppocr-rec-v4 ${label}: char accuracy ${acc[label]!.toFixed(4)}, size ${(bytes.length / orig.length).toFixed(3)}x`);
    assert.ok(base - acc[label]! <= 0.015, `${label}: char accuracy ${acc[label]} vs float ${base}`);
  }
  // Entropy used to read 0.70 of the characters here; onnxruntime's own entropy calibration reads 0.97 of
  // them (docs/quantize.md). The default stays within a point of the best named method.
  assert.ok(acc['int8 static entropy']! >= 0.97, `entropy ${acc['int8 static entropy']}`);
  const named = Math.max(...['minmax', 'percentile', 'entropy', 'mse'].map((m) => acc[`int8 static ${m}`]!));
  assert.ok(named - acc['int8 static auto (default)']! <= 0.01, `auto ${acc['int8 static auto (default)']} vs best named ${named}`);
});
