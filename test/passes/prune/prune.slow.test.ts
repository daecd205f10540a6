/**
 * Wanda's bias correction on a model that is not the fixture LM: ppocr-rec-v4 (paddle2onnx, opset 9; its
 * MatMul biases are Constant nodes feeding Adds), the 8 MatMuls of its attention blocks pruned (Convs kept
 * dense with --exclude Conv, the head kept as the sensitive layer), measured in onnxruntime-node against the
 * float model on 32 printed text lines, calibrated on 16 others (docs/prune.md records the numbers).
 * Slow: run with `npm run test:slow`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadModel, serializeModel } from '../../../src/onnx/index.js';
import { prune } from '../../../src/passes/prune/index.js';
import { batchesOf, logitsOf, rows, textLines } from '../quantize/quality.js';
import { fixture, quiet } from './helpers.js';

const root = dirname(fixture());
const model = join(root, '.cache', 'models', 'ppocr-rec-v4.onnx');

/** Per time step: top-1 agreement with the reference, and the SQNR (dB) of the outputs. */
function fidelity(a: Float32Array, ref: Float32Array, classes: number): { agreement: number; sqnrDb: number } {
  let agree = 0;
  let steps = 0;
  let sig = 0;
  let noise = 0;
  for (let o = 0; o < ref.length; o += classes) {
    let ia = o;
    let ib = o;
    for (let c = o; c < o + classes; c++) {
      if (a[c]! > a[ia]!) ia = c;
      if (ref[c]! > ref[ib]!) ib = c;
      sig += ref[c]! ** 2;
      noise += (a[c]! - ref[c]!) ** 2;
    }
    if (ia - o === ib - o) agree++;
    steps++;
  }
  return { agreement: agree / steps, sqnrDb: 10 * Math.log10(sig / noise) };
}

test('ppocr-rec-v4, Wanda 50% and 2:4 on the MatMuls: bias correction brings the output closer to the float model', async (t) => {
  assert.ok(existsSync(model), 'run node scripts/fetch-models.mjs first');
  const lines = textLines(join(root, 'test', 'passes', 'quantize', 'data'));
  const x = rows(lines.x, 0, 32);
  const calib = rows(lines.x, 32, 48);
  const data = { [Symbol.iterator]: () => batchesOf(calib, 'x', 4) };
  const ref = await logitsOf(readFileSync(model), 'x', x, 8);
  const classes = ref.dims[ref.dims.length - 1]!;
  for (const pattern of ['unstructured', '2:4']) {
    const got: Record<string, { agreement: number; sqnrDb: number }> = {};
    for (const [label, options] of [
      ['magnitude', { method: 'magnitude' }],
      ['wanda', { method: 'wanda', biasCorrection: false }],
      ['wanda+bc', { method: 'wanda' }],
    ] as const) {
      const m = await loadModel(model);
      const r = await prune(m, { ...options, pattern, exclude: 'Conv' }, { ...quiet, data });
      // The layers left dense (the Convs, the head) are listed too, each with why.
      const layers = r.layers.filter((l) => !l.skipped);
      assert.equal(layers.length, 8, 'the 8 MatMuls of the attention blocks; the head stays dense');
      for (const l of layers) assert.ok(Math.abs(l.sparsity! - 0.5) < 1e-3, `${l.name}: ${l.sparsity}`);
      if (label === 'wanda+bc') for (const l of layers) assert.match(String((l.biasCorrection as { into: string }).into), /^Add /, `${l.name}: corrected in its bias Add`);
      const out = await logitsOf(serializeModel(m), 'x', x, 8);
      got[label] = fidelity(out.data, ref.data, classes);
      t.diagnostic(`${pattern} ${label}: top-1 agreement ${got[label]!.agreement.toFixed(4)}, SQNR ${got[label]!.sqnrDb.toFixed(2)} dB`);
    }
    assert.ok(got['wanda+bc']!.sqnrDb > got.wanda!.sqnrDb + 1, `${pattern}: bias correction raises the SQNR by more than 1 dB`);
    assert.ok(got['wanda+bc']!.agreement >= got.wanda!.agreement, `${pattern}: and does not lower the agreement`);
  }
});
