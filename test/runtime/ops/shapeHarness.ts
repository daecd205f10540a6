/**
 * Test helpers for the shape, indexing and control kernels: one-node (or hand-built) models run in our
 * Session (wasm) and in onnxruntime-node on the same feeds. Inputs above the runtime's host limit (1024
 * elements) take the tfjs path, smaller or int64 ones the host path, so each op file tests both.
 */
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { makeAttr, type Attribute } from '../../../src/ir/attribute.js';
import type { Model } from '../../../src/ir/model.js';
import { maxDiff, rng, runOrt, runOurs, singleNodeModel, type InputSpec, type NodeSpec, type Result } from './quantHarness.js';

export { rng };

/** A float32 input of random values in [-1, 1). */
export function f32(name: string, dims: number[], seed = 1, init = false): InputSpec {
  const r = rng(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  return { name, dataType: DataType.FLOAT, dims, data: Float32Array.from({ length: n }, () => r() * 2 - 1), init };
}

/** An int64 input (a constant initializer by default, as shapes and axes usually are). */
export function i64(name: string, values: (number | bigint)[], dims: number[] = [values.length], init = true): InputSpec {
  return { name, dataType: DataType.INT64, dims, data: BigInt64Array.from(values, (v) => BigInt(v)), init };
}

/** A float attribute (makeAttr would take integral values for ints). */
export function floatAttr(name: string, v: number | number[]): Attribute {
  return makeAttr(name, v, 'float');
}

/** An int attribute. */
export function intAttr(name: string, v: number | number[]): Attribute {
  return makeAttr(name, v, 'int');
}

/** A one-node model of `spec` with the given attributes. */
export function nodeModel(spec: NodeSpec, attributes: Attribute[] = []): Model {
  const m = singleNodeModel({ ...spec, attrs: undefined });
  for (const a of attributes) m.graph.nodes[0]!.setAttr(a);
  return m;
}

const floatTypes = new Set(['float32', 'float16', 'float64']);

/**
 * Runs `model` in both runtimes on `spec`'s feeds and asserts the same types and dims, equal integers
 * and floats within `tol` of the output's scale. Returns the worst relative float difference.
 */
export async function agreeWithOrt(model: Model, spec: Pick<NodeSpec, 'inputs'>, tol = 1e-6): Promise<number> {
  const ref = await runOrt(model, spec as NodeSpec);
  if (typeof ref === 'string') throw new Error(`onnxruntime refused the model: ${ref}`);
  const ours = await runOurs(model, spec as NodeSpec);
  let worst = 0;
  assert.deepEqual(Object.keys(ours).sort(), Object.keys(ref).sort(), 'output names');
  for (const [name, r] of Object.entries(ref)) {
    const u: Result = ours[name]!;
    assert.equal(u.type, r.type, `${name} type`);
    assert.deepEqual(u.dims, r.dims, `${name} dims`);
    if (floatTypes.has(r.type)) {
      const { diff, scale } = maxDiff(u.values, r.values);
      const rel = diff / Math.max(scale, 1e-30);
      assert.ok(rel <= tol, `${name}: max abs diff ${diff} is ${rel} of the scale ${scale} (> ${tol})`);
      worst = Math.max(worst, rel);
    } else {
      assert.deepEqual(u.values, r.values, `${name} differs from onnxruntime`);
    }
  }
  return worst;
}

/** One node of `opType` at `opset` with the given inputs, attributes and float32 (or given) outputs, checked against onnxruntime. */
export async function checkOp(
  opType: string,
  opset: number,
  inputs: (InputSpec | null)[],
  attributes: Attribute[] = [],
  outputs: { name: string; dataType: number }[] = [{ name: 'y', dataType: DataType.FLOAT }],
  tol = 1e-6,
): Promise<number> {
  const spec: NodeSpec = { opType, inputs, outputs, opset };
  return agreeWithOrt(nodeModel(spec, attributes), spec, tol);
}
