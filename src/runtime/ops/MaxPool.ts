/**
 * MaxPool (ONNX): the maximum over each window of X [N, C, *spatial] (1-D, 2-D, 3-D); attributes
 * kernel_shape, strides, pads, auto_pad, dilations and ceil_mode (opset 10+), storage_order and the
 * optional Indices output (opset 8+): the flat index of each maximum in X (row-major over N, C and the
 * spatial axes; column-major over the two spatial axes with storage_order = 1). Geometry and the
 * transpose-free pooling are in util/pool.ts; channels-last input (from a conv) stays channels-last. Integer inputs (opset 12: int8, uint8) are pooled in
 * float32, which holds them exactly.
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { onDevice } from '../util/device.js';
import { maxPoolChannelsLast, maxPoolNCHW, poolGeometry, type PoolGeometry } from '../util/pool.js';
import { RTensor } from '../value.js';

function run(inputs: readonly (RTensor | null)[], ctx: KernelContext): (RTensor | null)[] {
  const X = required(inputs, 0, ctx);
  const node = ctx.node;
  if (X.rank < 3) throw new ModelError(`${node.describe()}: X must be [N, C, *spatial], got [${X.dims.join(',')}]`);
  const g = poolGeometry(ctx, X.dims.slice(2), ctx.opset >= 10);
  onDevice(X);
  const wantIndices = ctx.opset >= 8 && node.outputs[1] != null;
  if (X.channelsLast && X.nhwc().dtype === 'float32') {
    const yh = tf.tidy(() => maxPoolChannelsLast(X.nhwc(), g)) as tf.Tensor4D;
    return [RTensor.fromNhwc(yh, X.dataType), wantIndices ? indices(X, g, ctx) : null];
  }
  const y = tf.tidy(() => {
    const xf = X.tf.dtype === 'float32' ? X.tf : tf.cast(X.tf, 'float32');
    const out = maxPoolNCHW(xf, g);
    return X.tf.dtype === 'float32' ? out : tf.cast(out, X.tf.dtype);
  });
  return [RTensor.fromTf(y, X.dataType), wantIndices ? indices(X, g, ctx) : null];
}

/**
 * The Indices output, computed on the host: for each window, the first maximum in row-major order
 * (strict >, pads skipped), as onnxruntime's loops find it. Its flat index counts over N, C and the
 * spatial axes of X (column-major over the two spatial axes with storage_order = 1). (tfjs's
 * maxPoolWithArgmax is not used: the wasm backend's returns wrong positions.)
 */
function indices(X: RTensor, g: PoolGeometry, ctx: KernelContext): RTensor {
  const spatial = X.dims.slice(2);
  const r = spatial.length;
  const columnMajor = ctx.node.attrInt('storage_order', 0) === 1;
  if (columnMajor && r !== 2) throw new ModelError(`${ctx.node.describe()}: storage_order 1 is defined for 2-D pooling only`);
  const x = X.float32();
  const planes = X.dims[0]! * X.dims[1]!;
  const inSize = spatial.reduce((a, b) => a * b, 1);
  const outSize = g.out.reduce((a, b) => a * b, 1);
  const taps = g.kernel.reduce((a, b) => a * b, 1);
  const inStrides = spatial.map((_, i) => spatial.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new BigInt64Array(planes * outSize);
  const o = new Array<number>(r).fill(0);
  const k = new Array<number>(r).fill(0);
  for (let b = 0; b < planes; b++) {
    const base = b * inSize;
    for (let oi = 0; oi < outSize; oi++) {
      let rem = oi;
      for (let d = r - 1; d >= 0; d--) {
        o[d] = rem % g.out[d]!;
        rem = Math.floor(rem / g.out[d]!);
      }
      let best = -Infinity;
      let bestAt = -1;
      for (let ti = 0; ti < taps; ti++) {
        let t = ti;
        for (let d = r - 1; d >= 0; d--) {
          k[d] = t % g.kernel[d]!;
          t = Math.floor(t / g.kernel[d]!);
        }
        let flat = 0;
        let inside = true;
        for (let d = 0; d < r; d++) {
          const c = o[d]! * g.strides[d]! - g.head[d]! + k[d]! * g.dilations[d]!;
          if (c < 0 || c >= spatial[d]!) {
            inside = false;
            break;
          }
          flat += c * inStrides[d]!;
        }
        if (!inside) continue;
        const v = x[base + flat]!;
        if (v > best || bestAt < 0) {
          best = v;
          bestAt = flat;
        }
      }
      let idx = bestAt;
      if (columnMajor && bestAt >= 0) {
        const h = Math.floor(bestAt / spatial[1]!);
        const w = bestAt % spatial[1]!;
        idx = w * spatial[0]! + h;
      }
      out[b * outSize + oi] = BigInt(base + idx);
    }
  }
  return RTensor.fromHost(DataType.INT64, [X.dims[0]!, X.dims[1]!, ...g.out], out);
}

/** Opsets 1, 8 (Indices, storage_order), 10 (ceil_mode, dilations), 11, 12 (int8/uint8): one kernel reads
 * the attributes its opset has. */
export const MaxPool: OpKernel[] = [{ domain: '', opType: 'MaxPool', since: 1, run }];
