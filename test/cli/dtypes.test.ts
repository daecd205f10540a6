/**
 * Every command on the float16 / bfloat16 fixtures through the CLI, as a user runs them: outputs stay in
 * the model's type, are checked (onnxruntime, or compress's executor for bfloat16) and written with
 * external data when the input had it; a command that compresses nothing exits 1 with one line and
 * writes nothing; the summary line says how many weights were left alone and why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dtypeFixture, fixturePath } from '../helpers/dtypes.js';
import { lines, runCli } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'compress-dtypes-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

interface Summary {
  bytes: number;
  params: number;
  bitsPerWeight: number;
  bytesByDataType: Record<string, number>;
  opCounts: Record<string, number>;
  outputs: { dataType: string }[];
}

function report(path: string): { compressed: Summary; original: Summary; layers: Record<string, unknown>[]; runtime?: { loaded: boolean }; check?: { reduced: string }; [k: string]: unknown } {
  return JSON.parse(readFileSync(`${path}.report.json`, 'utf8'));
}

test('quantize: static int8 of the float16 MLP and dynamic int8 of the bfloat16 LM keep their types; --fp16 on float16 exits 1', async () => {
  const out = join(work, 'mlp_static.onnx');
  const s = await runCli(['quantize', dtypeFixture('mlp_fp16'), '--data', fixturePath('mlp', 'data', 'calib_x.npy'), '--samples', '64', '-o', out]);
  assert.equal(s.code, 0, s.stderr);
  const rs = report(out);
  // int8 weights with float16 scales, float16 biases, float32 scales of the activations' Q/DQ pairs.
  assert.deepEqual(Object.keys(rs.compressed.bytesByDataType).sort(), ['FLOAT', 'FLOAT16', 'INT8', 'UINT8']);
  assert.ok(rs.compressed.bytesByDataType.FLOAT! <= 4 * 4, 'the float32 scalars of 4 activation pairs');
  assert.equal(rs.compressed.outputs[0]!.dataType, 'FLOAT16');
  assert.equal(rs.runtime?.loaded, true);
  assert.ok(rs.compressed.bytes < 0.55 * rs.original.bytes, `${rs.compressed.bytes} of ${rs.original.bytes} bytes`);

  const lm = join(work, 'lm_dynamic.onnx');
  const d = await runCli(['quantize', dtypeFixture('lm_bf16'), '--dynamic', '-o', lm]);
  assert.equal(d.code, 0, d.stderr);
  const rd = report(lm);
  assert.equal(rd.compressed.opCounts.MatMulInteger, 13);
  assert.equal(rd.compressed.outputs[0]!.dataType, 'BFLOAT16');
  assert.match(String(rd.check?.reduced), /onnxruntime's CPU provider runs no bfloat16/);
  assert.match(d.stderr, /check reduced at this size: .*bfloat16/);

  const f = join(work, 'mlp_fp16.onnx');
  const r = await runCli(['quantize', dtypeFixture('mlp_fp16'), '--fp16', '-o', f]);
  assert.equal(r.code, 1);
  assert.equal(lines(r.stderr)[0], 'compress: error: nothing to convert to float16: the model has no float32 or bfloat16 tensor (its 6 float initializers are float16 already)');
  assert.equal(existsSync(f), false);
  assert.deepEqual(readdirSync(work).filter((n) => n.startsWith('.')), [], 'no staging folder left behind');
});

test('prune: Wanda on the float16 LM with external data; nothing to prune exits 1; the summary line counts the weights left alone', async () => {
  const out = join(work, 'lm_wanda.onnx');
  const r = await runCli(['prune', dtypeFixture('lm_fp16'), '--method', 'wanda', '--data', fixturePath('lm', 'data', 'calib_x.npy'), '--samples', '32', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(`${out}.data`), 'the float16 LM came with external data, so does its pruned copy');
  const rep = report(out);
  assert.deepEqual(Object.keys(rep.compressed.bytesByDataType).sort(), ['FLOAT16', 'INT64']);
  assert.ok(Math.abs((rep.pruning as { sparsity: { prunedLayers: number } }).sparsity.prunedLayers - 0.5) < 0.01);
  const head = rep.layers.find((l) => l.name === '/head/MatMul')!;
  assert.equal(head.skipped, 'output head: kept dense by default (--no-keep-sensitive prunes it)');
  assert.match(r.stderr, /; 1 weight left as it was \(1 output head: kept dense by default \(--no-keep-sensitive prunes it\)\);/);

  const none = join(work, 'none.onnx');
  const n = await runCli(['prune', dtypeFixture('mlp_fp16'), '--exclude', 'net', '-o', none]);
  assert.equal(n.code, 1);
  assert.deepEqual(lines(n.stderr), [
    'compress: error: nothing to prune: none of the 3 MatMul/Gemm/Conv weights can be: 3 excluded by --exclude (Gemm)',
    'hint: check --exclude, or prune the first layer and output heads too with --no-keep-sensitive',
  ]);
  assert.equal(existsSync(none), false);
});

test('report on a float16 pair, and a recipe (prune then 4-bit quantize) on the float16 LM', async () => {
  const recipe = join(work, 'recipe.yaml');
  writeFileSync(recipe, 'steps:\n  - prune: { sparsity: 0.3 }\n  - quantize: { bits: 4, group-size: 32 }\n');
  const out = join(work, 'lm_run.onnx');
  const r = await runCli(['run', recipe, dtypeFixture('lm_fp16'), '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const rep = report(out);
  // 4-bit weights with float16 scales (the head at 8 bits); what stays float (norms, biases) is float16 too.
  assert.equal(rep.compressed.opCounts['com.microsoft.MatMulNBits'], 13);
  assert.equal(rep.compressed.bytesByDataType.FLOAT, undefined);
  assert.equal(rep.compressed.outputs[0]!.dataType, 'FLOAT16');
  // The embedding table and the head are kept at 8 bits (half the weights of this small decoder).
  assert.ok(rep.compressed.bitsPerWeight < 7, `bits per weight ${rep.compressed.bitsPerWeight}`);

  const j = await runCli(['report', dtypeFixture('lm_fp16'), out, '--json', '--data', fixturePath('lm', 'data', 'test_x.npy'), '--samples', '32']);
  assert.equal(j.code, 0, j.stderr);
  const pair = JSON.parse(j.stdout);
  assert.equal(pair.original.bitsPerWeight, 16, 'a float16 model stores 16 bits per weight');
  assert.equal(pair.original.params, rep.original.params);
  assert.equal(pair.compressed.bitsPerWeight, rep.compressed.bitsPerWeight);
  assert.deepEqual(Object.keys(pair.original.bytesByDataType).sort(), ['FLOAT16', 'INT64']);
  const ppl = pair.metrics as { original: { perplexity: number }; compressed: { perplexity: number } };
  assert.ok(ppl.compressed.perplexity < 1.25 * ppl.original.perplexity, JSON.stringify(ppl));
});
