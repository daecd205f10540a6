/**
 * Test harness for the float NN kernels (Conv, pools, normalisations, RNNs, ...): one-node models run in
 * our Session on a chosen backend and in onnxruntime-node (the reference) on the same seeded feeds.
 * Model building and the onnxruntime side come from quantHarness.ts.
 */
import assert from 'node:assert/strict';
import { DataType, ortTypeName } from '../../../src/core/dtype.js';
import type { NumericArray } from '../../../src/ir/tensor.js';
import type { BackendName } from '../../../src/runtime/backend.js';
import { Session } from '../../../src/runtime/session.js';
import { maxDiff, randFloats, rng, runOrt, singleNodeModel, type InputSpec, type NodeSpec, type Result } from './quantHarness.js';
import { kernelBackends } from '../../helpers/backend.js';

export { rng, type NodeSpec };

/** The backends every NN kernel test runs on. */
export const nnBackends: BackendName[] = kernelBackends;

/** A float32 input of uniform values in [-1, 1) (a constant initializer when `init`). */
export function f32(r: () => number, name: string, dims: number[], init = false): InputSpec {
  return { name, dataType: DataType.FLOAT, dims, data: randFloats(r, dims.reduce((a, b) => a * b, 1), -1, 1), init };
}

/** An input with given values. */
export function values(name: string, dataType: number, dims: number[], data: NumericArray, init = false): InputSpec {
  return { name, dataType, dims, data, init };
}

/** Float outputs named y0, y1, ... */
export function outs(n: number, dataType: number = DataType.FLOAT): { name: string; dataType: number }[] {
  return Array.from({ length: n }, (_, i) => ({ name: `y${i}`, dataType }));
}

/** Runs a one-node model in our Session on `backend`; `runs` > 1 repeats it (cached constants reused). */
export async function runOursOn(spec: NodeSpec, backend: BackendName, runs = 1): Promise<Record<string, Result>> {
  const s = await Session.create(singleNodeModel(spec), { backend });
  const feeds: Record<string, { type: string; data: NumericArray; dims: number[] }> = {};
  for (const i of spec.inputs) if (i && !i.init) feeds[i.name] = { type: ortTypeName(i.dataType)!, data: i.data, dims: i.dims };
  let out = await s.run(feeds);
  for (let k = 1; k < runs; k++) out = await s.run(feeds);
  s.dispose();
  const res: Record<string, Result> = {};
  for (const [k, t] of Object.entries(out)) res[k] = { type: t.type, dims: Array.from(t.dims), values: Array.from(t.data as ArrayLike<number | bigint>, Number) };
  return res;
}

/**
 * Asserts our outputs on `backend` match onnxruntime's: same dims and types, integers equal, floats
 * within `tol` of the reference's scale (max |ours - ort| / max |ort|). Returns that worst relative
 * difference.
 */
export async function matchOrt(spec: NodeSpec, backend: BackendName, tol = 1e-5, runs = 2): Promise<number> {
  const ref = await runOrt(singleNodeModel(spec), spec);
  if (typeof ref === 'string') throw new Error(`onnxruntime refused ${spec.opType}: ${ref}`);
  const ours = await runOursOn(spec, backend, runs);
  let rel = 0;
  for (const o of spec.outputs) {
    const r: Result | undefined = ref[o.name];
    const u: Result | undefined = ours[o.name];
    assert.ok(r && u, `output ${o.name} missing`);
    assert.equal(u.type, r.type, `${o.name} type`);
    assert.deepEqual(u.dims, r.dims, `${o.name} dims`);
    if (r.type === 'float32' || r.type === 'float64') {
      const { diff, scale } = maxDiff(u.values, r.values);
      const base = Math.max(1e-30, scale);
      assert.ok(diff <= tol * base, `${o.name} on ${backend}: max abs diff ${diff} > ${tol} x scale ${scale}`);
      rel = Math.max(rel, diff / base);
    } else {
      assert.deepEqual(u.values, r.values, `${o.name} on ${backend} differs from onnxruntime`);
    }
  }
  return rel;
}

/** A fresh seeded generator per test name, so each case has its own fixed data. */
export function seeded(name: string): () => number {
  let h = 2166136261;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return rng(h >>> 0);
}
