/**
 * Reading and making the small integer tensors that carry shapes, axes, pads and indices. They stay on
 * the host as exact integers; int64 values beyond 2^53 (Slice's INT64_MAX "to the end" markers) become
 * +-MAX_SAFE_INTEGER-sized numbers, which every clamp below treats as "past the end" correctly.
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import type { KernelContext } from '../kernel.js';
import { RTensor } from '../value.js';

/** The elements of an integer tensor as numbers. */
export function readInts(t: RTensor): number[] {
  const h = t.host();
  if (t.dataType === DataType.STRING) throw new ModelError('expected an integer tensor, got strings');
  return Array.from(h as ArrayLike<number | bigint>, Number);
}

/** The single value of a scalar (or one-element) tensor as a number. */
export function readScalar(t: RTensor, what: string, ctx: KernelContext): number {
  if (t.size !== 1) throw new ModelError(`${ctx.node.describe()}: '${what}' must hold one value, got shape [${t.dims.join(',')}]`);
  return t.numbers()[0]!;
}

/** An INT64 host tensor from numbers (1-D by default). */
export function int64Tensor(values: readonly number[], dims: number[] = [values.length]): RTensor {
  const arr = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) arr[i] = BigInt(values[i]!);
  return RTensor.fromHost(DataType.INT64, dims, arr);
}

/** Normalises a list of possibly negative axes against `rank`, rejecting out-of-range and repeated axes. */
export function normAxes(axes: readonly number[], rank: number, ctx: KernelContext): number[] {
  const out = axes.map((a) => {
    const n = a < 0 ? a + rank : a;
    if (n < 0 || n >= rank) throw new ModelError(`${ctx.node.describe()}: axis ${a} is out of range for rank ${rank}`);
    return n;
  });
  if (new Set(out).size !== out.length) throw new ModelError(`${ctx.node.describe()}: axes [${axes.join(',')}] repeat an axis`);
  return out;
}

/** Clamps `v` to [lo, hi]. */
export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
