import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gptq, parseGptqOptions } from '../../../src/passes/gptq/index.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { applyRtn, batches, lm, opCounts, perplexity, quiet } from './helpers.js';

test('fixture LM, 3 bits, group 32: GPTQ (32 calibration rows) has lower held-out perplexity than RTN', async (t) => {
  await initBackend('auto');
  const { model, calib, test: held } = await lm();
  const rows = 64;
  const options = parseGptqOptions({ bits: 3, groupSize: 32, keepSensitive: false });
  const pFloat = await perplexity(model, held, rows);
  const rtnModel = (await lm()).model;
  applyRtn(rtnModel, { ...options, damp: 0.01 });
  const pRtn = await perplexity(rtnModel, held, rows);
  const r = await gptq(model, options, { ...quiet, data: batches(calib, 'input', 32, 32) });
  assert.equal(opCounts(model).MatMulNBits, 13);
  const pGptq = await perplexity(model, held, rows);
  t.diagnostic(`perplexity on ${rows} held-out rows: float ${pFloat.toFixed(2)}, RTN-3 ${pRtn.toFixed(2)}, GPTQ-3 ${pGptq.toFixed(2)}`);
  assert.ok(pGptq < pRtn, `GPTQ ${pGptq} vs RTN ${pRtn}`);
  assert.ok(pGptq - pFloat < 0.5 * (pRtn - pFloat), `GPTQ should remove most of RTN's loss: float ${pFloat}, GPTQ ${pGptq}, RTN ${pRtn}`);
  for (const l of r.layers) assert.ok((l.error as number) < (l.rtnError as number), `${l.name}`);
});
