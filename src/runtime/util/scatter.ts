/**
 * The common core of ScatterND and ScatterElements: a copy of `data` where each element of `updates`
 * is written to (or combined with, under a reduction) a target flat index. Duplicated targets are
 * applied in order, as onnxruntime does on one thread.
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import type { NumericArray } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import type { KernelContext } from '../kernel.js';
import { RTensor, decodeToNumbers, toCanonical } from '../value.js';
import { computeOnHost, copyHost, type Element } from './host.js';

/** How a scattered value combines with the one it lands on ('none' replaces). */
export type Reduction = 'none' | 'add' | 'mul' | 'max' | 'min';

/** Reads and checks the `reduction` attribute (add/mul from opset 16, max/min from 18). */
export function reductionOf(ctx: KernelContext): Reduction {
  const r = ctx.node.attrString('reduction', 'none');
  const allowed: Reduction[] = ctx.opset >= 18 ? ['none', 'add', 'mul', 'max', 'min'] : ['none', 'add', 'mul'];
  if (!(allowed as string[]).includes(r)) throw new ModelError(`${ctx.node.describe()}: reduction '${r}' is not one of ${allowed.join(', ')} at opset ${ctx.opset}`);
  return r as Reduction;
}

function combine(r: Reduction, a: number | bigint, b: number | bigint): number | bigint {
  switch (r) {
    case 'add':
      return (a as number) + (b as number);
    case 'mul':
      return (a as number) * (b as number);
    case 'max':
      return a > b ? a : b;
    case 'min':
      return a < b ? a : b;
    default:
      return b;
  }
}

/** out = data; out[targets[i]] (op)= updates[i]. */
export function scatterInto(data: RTensor, updates: RTensor, targets: Int32Array, reduction: Reduction, ctx: KernelContext): RTensor {
  if (updates.dataType !== data.dataType) throw new ModelError(`${ctx.node.describe()}: updates and data have different types`);
  if (updates.size !== targets.length) throw new ModelError(`${ctx.node.describe()}: updates have ${updates.size} elements, the indices address ${targets.length}`);
  const n = data.size;
  for (const t of targets) if (t < 0 || t >= n) throw new ModelError(`${ctx.node.describe()}: an index points outside the data`);
  if (reduction === 'none' && !computeOnHost(data, updates)) {
    // On tfjs: one gather over [data, updates] flattened, each target element reading its update.
    const src = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < targets.length; i++) src[targets[i]!] = n + i;
    const [dt, ut] = [data.tf, updates.tf];
    const t = tf.tidy(() => {
      const both = tf.concat([tf.reshape(dt, [n]), tf.reshape(ut, [updates.size])]);
      return tf.reshape(tf.gather(both, tf.tensor1d(src, 'int32')), data.dims);
    });
    return RTensor.fromTf(t, data.dataType);
  }
  if (data.dataType === DataType.STRING) {
    if (reduction !== 'none') throw new ModelError(`${ctx.node.describe()}: reduction '${reduction}' on strings`);
    const out = copyHost(data.host()) as Uint8Array[];
    const u = updates.host() as Uint8Array[];
    for (let i = 0; i < targets.length; i++) out[targets[i]!] = u[i]!;
    return RTensor.fromHost(data.dataType, data.dims, out);
  }
  // 16-bit floats are stored as bit patterns: combine their values, not their bits.
  const halfFloat = data.dataType === DataType.FLOAT16 || data.dataType === DataType.BFLOAT16;
  const out = (halfFloat ? Float64Array.from(data.numbers()) : copyHost(data.host())) as unknown as (number | bigint)[];
  const u = (halfFloat ? decodeToNumbers(updates.dataType, updates.host() as NumericArray) : updates.host()) as unknown as ArrayLike<number | bigint>;
  for (let i = 0; i < targets.length; i++) {
    const at = targets[i]!;
    out[at] = combine(reduction, out[at]!, u[i]!) as Element as number;
  }
  const canonical = halfFloat ? toCanonical(data.dataType, out as unknown as Float64Array) : (out as unknown as NumericArray);
  return RTensor.fromHost(data.dataType, data.dims, canonical);
}
