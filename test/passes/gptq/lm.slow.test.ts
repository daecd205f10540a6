/**
 * The quality table of docs/gptq.md: fixture LM, 256 calibration rows (calib_x.npy), perplexity of the 256
 * held-out rows (test_x.npy) in onnxruntime-node, GPTQ against round-to-nearest on the same grid.
 * Run: node --test .build/<dir>/test/passes/gptq/lm.slow.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gptq, parseGptqOptions } from '../../../src/passes/gptq/index.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { applyRtn, batches, lm, perplexity, quiet } from './helpers.js';

const configs = [
  { bits: 4, groupSize: 32 },
  { bits: 3, groupSize: 32 },
  { bits: 4, groupSize: -1 },
  { bits: 3, groupSize: -1 },
  { bits: 3, groupSize: -1, actOrder: true },
  { bits: 2, groupSize: 32 },
] as const;

test('fixture LM: GPTQ against RTN at 4, 3 and 2 bits', { timeout: 30 * 60_000 }, async (t) => {
  await initBackend('auto');
  const { model: base, calib, test: held } = await lm();
  const pFloat = await perplexity(base, held);
  t.diagnostic(`float: perplexity ${pFloat.toFixed(3)}`);
  const results: { name: string; rtn: number; gptq: number; seconds: number }[] = [];
  for (const c of configs) {
    const options = parseGptqOptions(c);
    const rtnModel = (await lm()).model;
    applyRtn(rtnModel, options);
    const pRtn = await perplexity(rtnModel, held);
    const model = (await lm()).model;
    const t0 = performance.now();
    const r = await gptq(model, options, { ...quiet, data: batches(calib, 'input', 32) });
    const seconds = (performance.now() - t0) / 1000;
    const pGptq = await perplexity(model, held);
    const name = `${c.bits}-bit g${c.groupSize}${'actOrder' in c ? ' act-order' : ''}`;
    const meanErr = r.layers.reduce((s, l) => s + (l.error as number), 0) / r.layers.length;
    const meanRtn = r.layers.reduce((s, l) => s + (l.rtnError as number), 0) / r.layers.length;
    t.diagnostic(`${name}: perplexity RTN ${pRtn.toFixed(3)}, GPTQ ${pGptq.toFixed(3)}; mean layer error RTN ${meanRtn.toExponential(2)}, GPTQ ${meanErr.toExponential(2)}; ${seconds.toFixed(1)} s`);
    results.push({ name, rtn: pRtn, gptq: pGptq, seconds });
  }
  const at = (name: string) => results.find((r) => r.name === name)!;
  assert.ok(at('4-bit g32').gptq < at('4-bit g32').rtn);
  assert.ok(at('3-bit g32').gptq < at('3-bit g32').rtn);
  const pc3 = at('3-bit g-1');
  assert.ok(pc3.gptq - pFloat < 0.5 * (pc3.rtn - pFloat), `3-bit per channel: GPTQ ${pc3.gptq}, RTN ${pc3.rtn}, float ${pFloat}`);
});
