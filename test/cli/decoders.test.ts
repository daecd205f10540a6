/**
 * Decoders as exporters publish them (issue 14, item 9), through the CLI: the fixtures of
 * fixtures/make_decoders.py take input_ids, attention_mask, position_ids and past key/values (and, in
 * the merged layout, use_cache_branch choosing an If branch), and the data are token ids alone.
 * - `report` measures the perplexity python onnxruntime measured on the same rows (fixtures/decoders.json);
 * - gptq, static quantize and prune calibrate on the ids (the other inputs filled), and the outputs run in
 *   onnxruntime-node;
 * - on the merged layout the pass works on the first-step branch and its rewrites reach the with-past
 *   branch: a second generation step (past from the first step, use_cache_branch true) gives the same
 *   logits as the whole rows in one step, which holds only if both branches carry the same weights.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseNpy } from '../../src/calibration/readers/npy.js';
import { loadModel } from '../../src/onnx/index.js';
import type { Graph } from '../../src/ir/index.js';
import { repoRoot, runCli } from './helpers.js';

const root = repoRoot();
const fixture = (name: string) => join(root, 'fixtures', name, 'model.onnx');
const calib = join(root, 'fixtures', 'decoder_past', 'data', 'calib_x.npy');
const testX = join(root, 'fixtures', 'decoder_past', 'data', 'test_x.npy');
const measured = JSON.parse(readFileSync(join(root, 'fixtures', 'decoders.json'), 'utf8')) as { fixtures: Record<string, { onnxruntime_perplexity_test_x: number }> };
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'compress-decoders-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The test rows (int64 [64, 32]). */
function testRows(): { data: BigInt64Array; rows: number; seq: number } {
  const a = parseNpy(new Uint8Array(readFileSync(testX)), 'test_x');
  return { data: a.data as BigInt64Array, rows: a.shape[0]!, seq: a.shape[1]! };
}

/** Rows [0, n) of the ids, columns [from, to). */
function slice(ids: { data: BigInt64Array; seq: number }, n: number, from: number, to: number): ort.Tensor {
  const out = new BigInt64Array(n * (to - from));
  for (let r = 0; r < n; r++) out.set(ids.data.subarray(r * ids.seq + from, r * ids.seq + to), r * (to - from));
  return new ort.Tensor('int64', out, [n, to - from]);
}

/** The feeds of a step: compress's fill rule, with a given past (or an empty one). */
function feeds(session: ort.InferenceSession, input: ort.Tensor, past?: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  const [b, seq] = input.dims as [number, number];
  const p = past ? Object.values(past)[0]!.dims[2]! : 0;
  const out: Record<string, ort.Tensor> = { input_ids: input };
  for (const name of session.inputNames) {
    if (name === 'attention_mask') out[name] = new ort.Tensor('int64', new BigInt64Array(b * (p + seq)).fill(1n), [b, p + seq]);
    else if (name === 'position_ids') out[name] = new ort.Tensor('int64', BigInt64Array.from({ length: b * seq }, (_, i) => BigInt(p + (i % seq))), [b, seq]);
    else if (name === 'use_cache_branch') out[name] = new ort.Tensor('bool', Uint8Array.from([p > 0 ? 1 : 0]), [1]);
    else if (name.startsWith('past_key_values')) out[name] = past?.[name] ?? new ort.Tensor('float32', new Float32Array(0), [b, 2, 0, 16]);
  }
  return out;
}

/**
 * The largest difference, in onnxruntime, between the logits of positions 24..31 computed as a second
 * step (a past of 24 tokens) and computed in one step over the whole rows.
 */
async function secondStepGap(path: string): Promise<number> {
  const s = await ort.InferenceSession.create(path, { logSeverityLevel: 3 });
  try {
    const ids = testRows();
    const n = 4;
    const first = await s.run(feeds(s, slice(ids, n, 0, 24)));
    const past: Record<string, ort.Tensor> = {};
    for (const k of Object.keys(first)) if (k.startsWith('present')) past[k.replace('present', 'past_key_values')] = first[k]!;
    const step = (await s.run(feeds(s, slice(ids, n, 24, ids.seq), past))).logits!;
    const whole = (await s.run(feeds(s, slice(ids, n, 0, ids.seq)))).logits!;
    const [, , vocab] = whole.dims as [number, number, number];
    const a = step.data as Float32Array;
    const b = whole.data as Float32Array;
    let gap = 0;
    const steps = ids.seq - 24;
    for (let r = 0; r < n; r++) {
      for (let t = 0; t < steps; t++) {
        for (let v = 0; v < vocab; v++) gap = Math.max(gap, Math.abs(a[(r * steps + t) * vocab + v]! - b[(r * ids.seq + 24 + t) * vocab + v]!));
      }
    }
    return gap;
  } finally {
    await s.release();
  }
}

/** Op counts of one graph (not its subgraphs). */
function ops(g: Graph): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of g.nodes) {
    const k = n.domain ? `${n.domain}.${n.opType}` : n.opType;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

type Json = Record<string, any>;

async function compress(args: string[], out: string): Promise<Json> {
  const r = await runCli([...args, '-o', out, '--json', '--seed', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /token ids for 'input_ids'; the other inputs filled as for a first step: attention_mask \(ones\)/);
  const j = JSON.parse(r.stdout) as Json;
  assert.equal(j.runtime.loaded, true, 'the output runs in onnxruntime-node');
  return j;
}

test('report: the perplexity of the decoder fixtures, from token ids alone, is the one python onnxruntime measured', async () => {
  // Both layouts, both float types (the other two fixtures are these in the other layout: the same numbers).
  for (const name of ['decoder_past', 'decoder_merged_fp16']) {
    const r = await runCli(['report', fixture(name), '--data', testX, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Json;
    assert.equal(j.metrics.task, 'lm');
    assert.equal(j.metrics.output, 'logits');
    assert.equal(j.metrics.samples, 64);
    const want = measured.fixtures[name]!.onnxruntime_perplexity_test_x;
    const got = j.metrics.original.perplexity as number;
    assert.ok(Math.abs(got - want) <= 1e-9 * want, `${name}: perplexity ${got}, python onnxruntime ${want}`);
    assert.match(j.metrics.note, /past key\/values \(empty\)/);
  }
});

test('gptq, static quantize and prune calibrate a with-past export on token ids', async () => {
  const base = ['--data', calib, '--samples', '8', '--batch-size', '8'];
  const g = await compress(['gptq', fixture('decoder_past'), ...base], join(dir, 'past.gptq.onnx'));
  assert.equal(g.compressed.opCounts['com.microsoft.MatMulNBits'], 15, 'every projection and the head at 4 bits');
  const p0 = g.metrics.original.perplexity as number;
  assert.ok(g.metrics.compressed.perplexity < p0 * 1.1, `gptq perplexity ${g.metrics.compressed.perplexity} vs ${p0}`);

  const q = await compress(['quantize', fixture('decoder_past'), ...base], join(dir, 'past.quantize.onnx'));
  assert.ok(q.compressed.opCounts.QuantizeLinear >= 10, 'activations quantized from calibration');
  assert.ok(q.metrics.compressed.perplexity < p0 * 1.1);

  const w = await compress(['prune', fixture('decoder_past'), ...base, '--method', 'wanda'], join(dir, 'past.prune.onnx'));
  assert.ok(w.compressed.sparsity > 0.3, `sparsity ${w.compressed.sparsity}`);
  assert.ok(w.metrics.compressed.perplexity < p0 * 1.5, `wanda perplexity ${w.metrics.compressed.perplexity} vs ${p0}`);
});

test('merged decoder: gptq, quantize and prune rewrite both branches alike; a second step matches one pass over the rows', async () => {
  assert.ok((await secondStepGap(fixture('decoder_merged'))) < 1e-4, 'the fixture itself');
  const base = ['--data', calib, '--samples', '8', '--batch-size', '8'];
  const runs: [string, string[], string][] = [
    ['gptq', ['gptq', fixture('decoder_merged'), ...base], 'com.microsoft.MatMulNBits'],
    ['quantize', ['quantize', fixture('decoder_merged'), '--bits', '4', ...base, '--weight-only'], 'com.microsoft.MatMulNBits'],
    ['prune', ['prune', fixture('decoder_merged'), ...base, '--method', 'wanda'], 'MatMul'],
  ];
  for (const [name, args, op] of runs) {
    const out = join(dir, `merged.${name}.onnx`);
    const j = await compress(args, out);
    const model = await loadModel(out);
    // One If; a DequantizeLinear of a weight (reading constants alone) sits in front of it, for both branches.
    const main = model.graph.nodes.map((n) => n.opType);
    assert.deepEqual(main.filter((o) => o !== 'DequantizeLinear'), ['If'], `${name}: ${main.join(', ')}`);
    const ifNode = model.graph.nodes.find((n) => n.opType === 'If')!;
    const [thenG, elseG] = [ifNode.attrGraph('then_branch')!, ifNode.attrGraph('else_branch')!];
    assert.equal(ops(thenG)[op], ops(elseG)[op], `${name}: ${op} in both branches`);
    assert.ok((ops(elseG)[op] ?? 0) >= 14, `${name}: ${JSON.stringify(ops(elseG))}`);
    const gap = await secondStepGap(out);
    assert.ok(gap < 1e-3, `${name}: a second step differs from the whole rows by ${gap}`);
    if (name === 'prune') assert.ok(j.compressed.sparsity > 0.3);
  }
});

test('an input the data cannot fill is a usage error naming it; --task classification feeds only what the data holds', async () => {
  const r = await runCli(['report', fixture('decoder_past'), '--data', testX, '--task', 'classification']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /holds one array but the model has 7 inputs/);
});
