/**
 * Test harness for the elementwise, reduction and cast kernels: runs one kernel directly (the registry's
 * pick for an opset) on RTensors placed on the host or on tfjs, so both paths of a kernel are reachable.
 */
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { makeAttr } from '../../../src/ir/attribute.js';
import { Node } from '../../../src/ir/node.js';
import type { NumericArray, TensorData } from '../../../src/ir/tensor.js';
import { initBackend, type BackendName } from '../../../src/runtime/backend.js';
import type { KernelContext } from '../../../src/runtime/kernel.js';
import { findKernel } from '../../../src/runtime/registry.js';
import { RTensor } from '../../../src/runtime/value.js';
import { kernelBackends } from '../../helpers/backend.js';

/** The backends every test here runs on. */
export const backends: BackendName[] = kernelBackends;

/** Switches tfjs to a backend (once per test). */
export async function useBackend(name: BackendName): Promise<void> {
  await initBackend(name);
}

/** A host-resident tensor from numbers (or bigints for int64 / uint64, or raw canonical data). */
export function host(dataType: number, dims: number[], values: ArrayLike<number> | ArrayLike<bigint> | TensorData): RTensor {
  if (dataType === DataType.INT64 || dataType === DataType.UINT64) {
    const arr = dataType === DataType.INT64 ? new BigInt64Array(values.length) : new BigUint64Array(values.length);
    for (let i = 0; i < values.length; i++) arr[i] = BigInt((values as ArrayLike<number | bigint>)[i]!);
    return RTensor.fromHost(dataType, dims, arr);
  }
  if (ArrayBuffer.isView(values) || (Array.isArray(values) && values[0] instanceof Uint8Array)) return RTensor.fromHost(dataType, dims, values as TensorData);
  return RTensor.fromNumbers(dataType, dims, values as ArrayLike<number>);
}

/** The same tensor, but already on tfjs (so kernels take their device path). */
export function device(dataType: number, dims: number[], values: ArrayLike<number> | ArrayLike<bigint>): RTensor {
  const t = host(dataType, dims, values);
  void t.tf;
  return t;
}

/** An attribute value: ints, strings, int lists; `{ float }` marks a FLOAT attribute (JS numbers do not say). */
export type AttrValue = number | number[] | string | { float: number };

/** Runs the kernel of `opType` registered for `opset` on `inputs`, with attributes (`training`: a training forward pass). */
export function run(opType: string, opset: number, inputs: (RTensor | null)[], attrs: Record<string, AttrValue> = {}, training = false): RTensor[] {
  const k = findKernel('', opType, opset);
  assert.ok(k, `no kernel for ${opType} at opset ${opset}`);
  const node = new Node(opType, '', `test_${opType}`);
  for (const [name, v] of Object.entries(attrs)) {
    if (typeof v === 'object' && !Array.isArray(v)) node.setAttr(makeAttr(name, v.float, 'float'));
    else node.setAttr(makeAttr(name, v));
  }
  const ctx: KernelContext = {
    node,
    opset,
    training,
    runSubgraph: () => {
      throw new Error('no subgraphs here');
    },
  };
  return k.run(inputs, ctx) as RTensor[];
}

/** Runs and returns the single output. */
export function run1(opType: string, opset: number, inputs: (RTensor | null)[], attrs: Record<string, AttrValue> = {}, training = false): RTensor {
  const out = run(opType, opset, inputs, attrs, training)[0];
  assert.ok(out, `${opType} returned no output`);
  return out;
}

/** Asserts elements equal exactly (bigints compared as bigints; NaN equals NaN). */
export function assertExact(actual: RTensor, dataType: number, dims: number[], expected: ArrayLike<number | bigint>): void {
  assert.equal(actual.dataType, dataType, `data type ${actual.dataType} != ${dataType}`);
  assert.deepEqual(actual.dims, dims);
  const h = actual.host() as NumericArray;
  const got = Array.from(h as ArrayLike<number | bigint>);
  const want = Array.from(expected, (v) => (typeof v === 'bigint' ? v : dataType === DataType.INT64 || dataType === DataType.UINT64 ? BigInt(v) : v));
  assert.deepEqual(got, want);
}

/** Asserts floats close (numpy assert_allclose: |a-b| <= atol + rtol*|b|; NaN equals NaN). */
export function assertClose(actual: RTensor, dataType: number, dims: number[], expected: ArrayLike<number>, rtol = 1e-5, atol = 1e-6): void {
  assert.equal(actual.dataType, dataType, `data type ${actual.dataType} != ${dataType}`);
  assert.deepEqual(actual.dims, dims);
  const got = actual.numbers();
  assert.equal(got.length, expected.length);
  for (let i = 0; i < got.length; i++) {
    const a = got[i]!;
    const b = expected[i]!;
    if (Number.isNaN(b)) {
      assert.ok(Number.isNaN(a), `element ${i}: ${a} != NaN`);
      continue;
    }
    if (a === b) continue;
    assert.ok(Math.abs(a - b) <= atol + rtol * Math.abs(b), `element ${i}: ${a} != ${b}`);
  }
}
