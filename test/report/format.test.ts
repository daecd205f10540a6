/**
 * The three human renderings of a report (table, Markdown, HTML) show the same numbers; JSON keeps the
 * schema's keys and turns non-finite numbers into null.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../src/core/dtype.js';
import { Tensor } from '../../src/ir/index.js';
import { buildReport } from '../../src/report/index.js';
import { formatReport } from '../../src/report/format/index.js';
import { alignRows } from '../../src/report/format/table.js';
import { tinyModel } from '../cli/helpers.js';

function pair() {
  const small = tinyModel();
  const w = small.graph.value('W1')!;
  // "Compress" W1 to int8 behind a DequantizeLinear, so op counts and bytes by type change.
  const q = small.graph.addInitializer('W1_q', new Tensor(DataType.INT8, [16, 8], new Int8Array(128)));
  const s = small.graph.addInitializer('W1_scale', Tensor.float32([], [0.5]));
  const dq = small.graph.createNode({ opType: 'DequantizeLinear', inputs: [q, s], outputs: ['W1_dq'] });
  for (const u of [...w.uses]) u.node.setInput(u.index, dq.output(0));
  small.graph.removeInitializer(w);
  return buildReport({ model: tinyModel(), files: { path: 'big<1>.onnx', bytes: 2000, files: [] } }, { model: small, files: { path: 'small.onnx', bytes: 800, files: [] } }, { gates: { maxSize: 1000 } });
}

test('alignRows pads columns and right-aligns numbers', () => {
  assert.deepEqual(alignRows([['a', '1'], ['bbb', '1,000']], ['left', 'right']), ['  a        1', '  bbb  1,000']);
});

test('table: sizes, ratio, op changes, gates', () => {
  const r = pair();
  assert.deepEqual(r.opCountsDiff, { DequantizeLinear: 1 });
  const t = formatReport(r, 'table');
  assert.match(t, /^report: big<1>\.onnx -> small\.onnx$/m);
  assert.match(t, /^ {2}bytes +2,000 \(2\.0 KiB\) +800 B +0\.400x \(2\.50x smaller\)$/m);
  assert.match(t, /^ {2}DequantizeLinear +0 +1 +\+1$/m);
  assert.match(t, /^ {2}INT8 +0 +128$/m);
  assert.match(t, /^ {2}max-size +1000 +800 +pass$/m);
  assert.match(t, /accuracy was not measured/);
  assert.match(t, /all gates passed/);
});

test('markdown and html carry the same rows; html escapes', () => {
  const r = pair();
  const md = formatReport(r, 'md');
  assert.match(md, /^\| bytes \| 2,000 \(2\.0 KiB\) \| 800 B \| 0\.400x \(2\.50x smaller\) \|$/m);
  assert.match(md, /^\| --- \| ---: \| ---: \| ---: \|$/m);
  const html = formatReport(r, 'html');
  assert.match(html, /<title>report: big&lt;1&gt;\.onnx -&gt; small\.onnx<\/title>/);
  assert.match(html, /<td>DequantizeLinear<\/td><td class="r">0<\/td><td class="r">1<\/td><td class="r">\+1<\/td>/);
  assert.doesNotMatch(html, /big<1>/);
});

test('json: the schema keys, non-finite numbers as null', () => {
  const r = pair();
  r.fidelity = { kl: Infinity, cosine: NaN };
  const j = JSON.parse(formatReport(r, 'json')) as Record<string, any>;
  assert.equal(j.schema, 1);
  assert.equal(j.sizeRatio, 0.4);
  assert.equal(j.compressed.params, 168);
  assert.equal(j.fidelity.kl, null);
  assert.equal(j.fidelity.cosine, null);
  assert.deepEqual(j.gates, [{ name: 'max-size', limit: 1000, value: 800, pass: true }]);
});
