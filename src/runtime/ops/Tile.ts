/**
 * Tile (ONNX): repeats the input `repeats[i]` times along each axis i (INT64 input from opset 6).
 * Opset 1 took a scalar `tiles` count and an `axis` input instead.
 */
import { ModelError } from '../../core/errors.js';
import { sizeOf } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { normAxis, required } from '../kernel.js';
import { computeOnHostFor, gatherFlat, mapIndex, stridesOf } from '../util/host.js';
import { readInts, readScalar } from '../util/ints.js';
import { RTensor } from '../value.js';

function tile(x: RTensor, repeats: number[], ctx: KernelContext): RTensor[] {
  if (repeats.length !== x.rank || repeats.some((r) => r < 0)) throw new ModelError(`${ctx.node.describe()}: repeats [${repeats.join(',')}] must be ${x.rank} non-negative counts`);
  const outDims = x.dims.map((d, i) => d * repeats[i]!);
  const onHost = computeOnHostFor(sizeOf(outDims), x);
  if (onHost || sizeOf(outDims) === 0) {
    const strides = stridesOf(x.dims);
    return [gatherFlat(x, outDims, mapIndex(outDims, (a, c) => (c % x.dims[a]!) * strides[a]!), onHost)];
  }
  return [RTensor.fromTf(tf.tile(x.tf, repeats), x.dataType)];
}

export const Tile: OpKernel[] = [
  {
    domain: '',
    opType: 'Tile',
    since: 1,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      const tiles = readScalar(required(inputs, 1, ctx), 'tiles', ctx);
      const axis = normAxis(readScalar(required(inputs, 2, ctx), 'axis', ctx), x.rank, ctx);
      return tile(x, x.dims.map((_, i) => (i === axis ? tiles : 1)), ctx);
    },
  },
  { domain: '', opType: 'Tile', since: 6, run: (inputs, ctx) => tile(required(inputs, 0, ctx), readInts(required(inputs, 1, ctx)), ctx) },
];
