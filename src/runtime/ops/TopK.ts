/**
 * TopK (ONNX): the k largest (or, from opset 11, smallest) elements along `axis` (default -1) and their
 * INT64 indices; k is an attribute at opset 1 and an input from 10. Equal values keep the lower index
 * first, as the spec asks. Small or host data is sorted on the host; large data on tfjs uses tf.topk on
 * the last axis (transposing when needed).
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { sizeOf } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { normAxis, required } from '../kernel.js';
import { gatherFlat, transposed } from '../util/host.js';
import { readScalar } from '../util/ints.js';
import { RTensor } from '../value.js';

/** Above this many elements, device data is ranked by tf.topk rather than read back. */
const DEVICE_MIN = 1 << 16;

function topk(x: RTensor, k: number, ctx: KernelContext, largest: boolean): RTensor[] {
  const axis = normAxis(ctx.node.attrInt('axis', -1), x.rank, ctx);
  const len = x.dims[axis]!;
  if (k < 0 || k > len) throw new ModelError(`${ctx.node.describe()}: k = ${k} is outside [0, ${len}] for axis ${axis}`);
  const outDims = x.dims.slice();
  outDims[axis] = k;
  const last = axis === x.rank - 1;
  if (x.onDevice && x.size >= DEVICE_MIN && largest && x.dataType === DataType.FLOAT) {
    const perm = x.dims.map((_, i) => i);
    perm[axis] = x.rank - 1;
    perm[x.rank - 1] = axis;
    const moved = last ? x : transposed(x, perm, false);
    const r = tf.topk(moved.tf, k, true);
    if (!last) moved.dispose();
    const values = RTensor.fromTf(r.values, x.dataType);
    const indices = RTensor.fromTf(r.indices, DataType.INT64);
    if (last) return [values, indices];
    const out = [transposed(values, perm, false), transposed(indices, perm, false)];
    values.dispose();
    indices.dispose();
    return out;
  }
  const vals = x.numbers();
  const outer = sizeOf(x.dims.slice(0, axis));
  const inner = sizeOf(x.dims.slice(axis + 1));
  const src = new Int32Array(outer * k * inner);
  const idx = new BigInt64Array(outer * k * inner);
  const order = new Array<number>(len);
  // NaN ranks as the largest value: first among the largest, last among the smallest.
  const key = (v: number) => (Number.isNaN(v) ? (largest ? Infinity : -Infinity) : v);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      for (let j = 0; j < len; j++) order[j] = j;
      order.sort((a, b) => {
        const va = key(vals[base + a * inner]!);
        const vb = key(vals[base + b * inner]!);
        if (va !== vb) return largest ? (va > vb ? -1 : 1) : va < vb ? -1 : 1;
        return a - b;
      });
      for (let j = 0; j < k; j++) {
        const at = (o * k + j) * inner + i;
        src[at] = base + order[j]! * inner;
        idx[at] = BigInt(order[j]!);
      }
    }
  }
  return [gatherFlat(x, outDims, src, true), RTensor.fromHost(DataType.INT64, outDims, idx)];
}

export const TopK: OpKernel[] = [
  {
    domain: '',
    opType: 'TopK',
    since: 1,
    run: (inputs, ctx) => {
      const k = ctx.node.attrInt('k');
      if (k === undefined) throw new ModelError(`${ctx.node.describe()} (opset ${ctx.opset}) needs the 'k' attribute`);
      return topk(required(inputs, 0, ctx), k, ctx, true);
    },
  },
  { domain: '', opType: 'TopK', since: 10, run: (inputs, ctx) => topk(required(inputs, 0, ctx), readScalar(required(inputs, 1, ctx), 'K', ctx), ctx, true) },
  {
    domain: '',
    opType: 'TopK',
    since: 11,
    run: (inputs, ctx) => topk(required(inputs, 0, ctx), readScalar(required(inputs, 1, ctx), 'K', ctx), ctx, ctx.node.attrInt('largest', 1) !== 0),
  },
];
