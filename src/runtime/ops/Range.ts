/**
 * Range (ONNX, opset 11): start, start + delta, ... up to (excluding) limit; the count is
 * max(ceil((limit - start) / delta), 0). Computed on the host in the inputs' type (int64 stays exact).
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { firstElement } from '../util/host.js';
import { RTensor, toCanonical } from '../value.js';

function range(inputs: readonly (RTensor | null)[], ctx: KernelContext): RTensor[] {
  const [s, l, d] = [0, 1, 2].map((i) => required(inputs, i, ctx));
  const dataType = s!.dataType;
  if (dataType === DataType.INT64) {
    const start = firstElement(s!) as bigint;
    const limit = firstElement(l!) as bigint;
    const delta = firstElement(d!) as bigint;
    if (delta === 0n) throw new ModelError(`${ctx.node.describe()}: delta is 0`);
    const span = limit - start;
    // Ceiling division in bigints: -floor(-a / b).
    const q = span / delta;
    const n = Number(q * delta === span || (span > 0n) !== (delta > 0n) ? q : q + 1n);
    const count = Math.max(n, 0);
    const out = new BigInt64Array(count);
    for (let i = 0; i < count; i++) out[i] = start + BigInt(i) * delta;
    return [RTensor.fromHost(dataType, [count], out)];
  }
  const [start, limit, delta] = [s!, l!, d!].map((t) => t.numbers()[0]!);
  if (delta === 0) throw new ModelError(`${ctx.node.describe()}: delta is 0`);
  const count = Math.max(Math.ceil((limit! - start!) / delta!), 0);
  const values = Array.from({ length: count }, (_, i) => start! + i * delta!);
  return [RTensor.fromHost(dataType, [count], toCanonical(dataType, values))];
}

export const Range: OpKernel[] = [{ domain: '', opType: 'Range', since: 11, run: range }];
