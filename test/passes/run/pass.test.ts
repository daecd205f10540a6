/**
 * The recipe runner with stand-in passes: steps run in order on the previous output, each step's sizes
 * are kept, distill's teacher defaults to the model as it was before step 1, and a failing step names
 * itself while keeping its error's exit code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExitCode, ModelError, UsageError } from '../../../src/core/errors.js';
import { defaultContext } from '../../../src/core/logger.js';
import { Model } from '../../../src/ir/model.js';
import { parseRunOptions, run, stepSizes, type StepLoader, type StepPass } from '../../../src/passes/run/index.js';
import { serializeModel } from '../../../src/onnx/index.js';
import { tinyModel } from '../../cli/helpers.js';

const W1_PARAMS = 16 * 8;

/** A stand-in prune: zeroes the first `share` of W1. */
const zeroW1: StepPass = {
  parseOptions: (raw) => {
    const r = raw as Record<string, unknown>;
    if (typeof r.sparsity !== 'number' || r.sparsity < 0 || r.sparsity >= 1) throw new UsageError(`--sparsity must be a number in [0, 1) (got ${String(r.sparsity)})`);
    return r;
  },
  run: (model, options) => {
    const w = model.graph.value('W1')!.initializer!.data as Float32Array;
    w.fill(0, 0, Math.round(w.length * (options as { sparsity: number }).sparsity));
    return { model, layers: [{ name: 'W1', op: 'MatMul', params: w.length }], warnings: ['stand-in'] };
  },
};

test('steps run in order on the previous output; each keeps its sizes before and after', async () => {
  const seen: string[] = [];
  const loader: StepLoader = async (name) => ({
    ...zeroW1,
    run: (model, options, ctx) => {
      seen.push(`${name}:${(options as { sparsity: number }).sparsity}`);
      return zeroW1.run(model, options, ctx);
    },
  });
  const model = tinyModel();
  const before = stepSizes(model);
  const out = await run(model, { steps: [{ name: 'prune', options: { sparsity: 0.25 } }, { name: 'prune', options: { sparsity: 0.5 } }], seed: 3, backend: 'cpu' }, defaultContext, loader);
  assert.deepEqual(seen, ['prune:0.25', 'prune:0.5']);
  const [s1, s2] = out.report.steps;
  assert.equal(s1!.step, 1);
  assert.deepEqual(s1!.before, before);
  // The tiny model has 168 parameters, 8 of them zero already (W1's first row); the bias is zero too.
  assert.equal(s1!.after.sparsity, (32 + 8) / 168);
  assert.deepEqual(s2!.before, s1!.after, 'step 2 starts from what step 1 left');
  assert.equal(s2!.after.sparsity, (64 + 8) / 168);
  assert.equal(s2!.after.bytes, serializeModel(out.model).byteLength);
  assert.deepEqual(out.warnings, ['step 1 (prune): stand-in', 'step 2 (prune): stand-in']);
  assert.equal(s1!.layers?.[0]?.params, W1_PARAMS);
});

test('every step is checked before any runs: a bad value in step 2 leaves the model untouched', async () => {
  const model = tinyModel();
  const w = model.graph.value('W1')!.initializer!.data as Float32Array;
  const copy = Float32Array.from(w);
  await assert.rejects(
    run(model, { steps: [{ name: 'prune', options: { sparsity: 0.5 } }, { name: 'prune', options: { sparsity: 2 } }] }, defaultContext, async () => zeroW1),
    (e: Error) => e instanceof UsageError && e.message === 'step 2 (prune): --sparsity must be a number in [0, 1) (got 2)',
  );
  assert.deepEqual(w, copy);
});

test("distill's teacher defaults to the original model, as it was before step 1", async () => {
  let teacherW1: Float32Array | undefined;
  const loader: StepLoader = async (name) =>
    name === 'prune'
      ? zeroW1
      : {
          run: (model, options) => {
            const t = (options as { teacher: Model }).teacher;
            assert.ok(t instanceof Model);
            assert.notEqual(t, model);
            teacherW1 = t.graph.value('W1')!.initializer!.data as Float32Array;
            return { model };
          },
        };
  const model = tinyModel();
  const original = Float32Array.from(model.graph.value('W1')!.initializer!.data as Float32Array);
  const out = await run(model, { steps: [{ name: 'prune', options: { sparsity: 0.9 } }, { name: 'distill', options: {} }] }, defaultContext, loader);
  assert.deepEqual(teacherW1, original);
  assert.equal(out.report.steps[1]!.teacher, 'the original model');
});

test('a failing step names itself and keeps its exit code', async () => {
  const loader: StepLoader = async () => ({
    run: () => {
      throw new ModelError("node 'mm' (MatMul) is not supported");
    },
  });
  await assert.rejects(run(tinyModel(), { steps: [{ name: 'svd', options: {} }] }, defaultContext, loader), (e: Error) => e instanceof ModelError && e.exitCode === ExitCode.model && e.message === "step 1 (svd): node 'mm' (MatMul) is not supported");
});

test('parseRunOptions: steps are required and named after known passes', () => {
  assert.throws(() => parseRunOptions({ steps: [] }), /non-empty list of steps/);
  assert.throws(() => parseRunOptions({ steps: [{ name: 'shrink', options: {} }] }), /step 1: unknown step 'shrink'/);
  assert.throws(() => parseRunOptions({ steps: [{ name: 'prune', options: {}, teacher: 't.onnx' }] }), /step 1 \(prune\): unknown option 'teacher'/);
  assert.deepEqual(parseRunOptions({ steps: [{ name: 'quantize', options: { bits: 8 } }], seed: 7 }).seed, 7);
});
