/**
 * CumSum (ONNX, opset 11; more types at 14): running sums along the `axis` input; `exclusive` leaves
 * out the element itself, `reverse` runs from the end. Float data on tfjs (tf.cumsum); int64 and
 * small host tensors on the host, exactly.
 */
import { DataType } from '../../core/dtype.js';
import { sizeOf, type NumericArray } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { normAxis, required } from '../kernel.js';
import { computeOnHost, copyHost } from '../util/host.js';
import { readScalar } from '../util/ints.js';
import { RTensor, toCanonical } from '../value.js';

function cumsum(inputs: readonly (RTensor | null)[], ctx: KernelContext): RTensor[] {
  const x = required(inputs, 0, ctx);
  const axis = normAxis(readScalar(required(inputs, 1, ctx), 'axis', ctx), x.rank, ctx);
  const exclusive = ctx.node.attrInt('exclusive', 0) !== 0;
  const reverse = ctx.node.attrInt('reverse', 0) !== 0;
  if (!computeOnHost(x)) return [RTensor.fromTf(tf.cumsum(x.tf, axis, exclusive, reverse), x.dataType)];
  const half = x.dataType === DataType.FLOAT16 || x.dataType === DataType.BFLOAT16;
  const data = (half ? Float64Array.from(x.numbers()) : copyHost(x.host())) as unknown as (number | bigint)[];
  const outer = sizeOf(x.dims.slice(0, axis));
  const len = x.dims[axis]!;
  const inner = sizeOf(x.dims.slice(axis + 1));
  const big = x.dataType === DataType.INT64 || x.dataType === DataType.UINT64;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc: number | bigint = big ? 0n : 0;
      for (let s = 0; s < len; s++) {
        const j = reverse ? len - 1 - s : s;
        const at = (o * len + j) * inner + i;
        const v = data[at]!;
        if (exclusive) {
          data[at] = acc;
          acc = (acc as number) + (v as number);
        } else {
          acc = (acc as number) + (v as number);
          data[at] = acc;
        }
      }
    }
  }
  const out = half ? toCanonical(x.dataType, data as unknown as Float64Array) : (data as unknown as NumericArray);
  return [RTensor.fromHost(x.dataType, x.dims, out)];
}

export const CumSum: OpKernel[] = [{ domain: '', opType: 'CumSum', since: 11, run: cumsum }];
