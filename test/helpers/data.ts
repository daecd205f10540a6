/** Sample arrays (first axis = samples) cut into rows and feed batches, for the passes' tests. */
import type { HostArray } from '../../src/calibration/readers/npy.js';
import { RTensor } from '../../src/runtime/value.js';

/** Rows [start, end) of an array whose first axis is samples (a view, not a copy). */
export function rows(a: HostArray, start: number, end: number): HostArray {
  const per = a.shape.slice(1).reduce((x, y) => x * y, 1);
  const e = Math.min(end, a.shape[0]!);
  return { dataType: a.dataType, shape: [e - start, ...a.shape.slice(1)], data: a.data.subarray(start * per, e * per) as HostArray['data'] };
}

/** Re-iterable feed batches of the first `samples` rows of `a` for the input `name`. */
export function batches(a: HostArray, name: string, batchSize: number, samples = a.shape[0]!): Iterable<Record<string, RTensor>> {
  return {
    *[Symbol.iterator]() {
      const n = Math.min(samples, a.shape[0]!);
      for (let s = 0; s < n; s += batchSize) {
        const r = rows(a, s, Math.min(s + batchSize, n));
        yield { [name]: RTensor.fromHost(r.dataType, r.shape, r.data) };
      }
    },
  };
}

/** The parts one after the other in one array. */
export function concat(parts: readonly Float32Array[]): Float32Array {
  const data = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    data.set(p, off);
    off += p.length;
  }
  return data;
}
