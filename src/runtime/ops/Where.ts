/**
 * Where (ONNX, since 9): X where the condition is true, else Y, all three broadcast together. Exact types
 * (integers, bool, strings) whose inputs all live on the host, or do not fit tfjs's int32, are selected on
 * the host, which keeps int64 shape values exact; floats select on tfjs.
 */
import { DataType } from '../../core/dtype.js';
import { sizeOf, type NumericArray } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { RTensor } from '../value.js';
import { broadcastDims, broadcastIndex } from '../util/broadcast.js';
import { allOnHost, fitsDevice, hostOutput, isIntegral, tfCompute } from '../util/elementwise.js';

function hostWhere(c: RTensor, x: RTensor, y: RTensor, ctx: KernelContext): RTensor {
  const outDims = broadcastDims([c.dims, x.dims, y.dims], ctx);
  const n = sizeOf(outDims);
  const [ic, ix, iy] = [c, x, y].map((t) => broadcastIndex(t.dims, outDims));
  const C = c.host() as Uint8Array;
  const X = x.host() as NumericArray | Uint8Array[];
  const Y = y.host() as NumericArray | Uint8Array[];
  if (x.dataType === DataType.STRING) {
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) out.push(C[ic ? ic[i]! : i] ? (X as Uint8Array[])[ix ? ix[i]! : i]! : (Y as Uint8Array[])[iy ? iy[i]! : i]!);
    return RTensor.fromHost(x.dataType, outDims, out);
  }
  const { data } = hostOutput(x.dataType, n);
  const d = data as unknown as (number | bigint)[];
  const xs = X as unknown as (number | bigint)[];
  const ys = Y as unknown as (number | bigint)[];
  for (let i = 0; i < n; i++) d[i] = C[ic ? ic[i]! : i] ? xs[ix ? ix[i]! : i]! : ys[iy ? iy[i]! : i]!;
  return RTensor.fromHost(x.dataType, outDims, data);
}

/** The Where kernel of ai.onnx, from opset 9. */
export const Where: OpKernel[] = [
  {
    domain: '',
    opType: 'Where',
    since: 9,
    run: (inputs, ctx) => {
      const c = required(inputs, 0, ctx);
      const x = required(inputs, 1, ctx);
      const y = required(inputs, 2, ctx);
      const exact = isIntegral(x.dataType) || x.dataType === DataType.STRING;
      if (exact && (allOnHost([c, x, y]) || !fitsDevice(x) || !fitsDevice(y))) return [hostWhere(c, x, y, ctx)];
      broadcastDims([c.dims, x.dims, y.dims], ctx);
      const [tc, tx, ty] = [c.tf, x.tf, y.tf];
      return [tfCompute(x.dataType, [tc, tx, ty], () => tf.where(tc, tx, ty))];
    },
  },
];
