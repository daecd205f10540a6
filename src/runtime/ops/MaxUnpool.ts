/**
 * MaxUnpool (ONNX opset 9/11): the partial inverse of MaxPool. Y is zeros of the unpooled shape with
 * Y.flat[I[j]] = X.flat[j] (I: MaxPool's Indices output, flat over N, C and the spatial axes). The shape
 * is the optional `output_shape` input, else (in - 1) * stride + kernel - pads per spatial axis. A plain
 * host scatter (the indices are host integers); a later write to the same index wins, as in onnxruntime.
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { readInts } from '../util/ints.js';
import { RTensor } from '../value.js';

function run(inputs: readonly (RTensor | null)[], ctx: KernelContext): (RTensor | null)[] {
  const X = required(inputs, 0, ctx);
  const I = required(inputs, 1, ctx);
  const node = ctx.node;
  const r = X.rank - 2;
  if (r < 1) throw new ModelError(`${node.describe()}: X must be [N, C, *spatial], got [${X.dims.join(',')}]`);
  if (I.size !== X.size) throw new ModelError(`${node.describe()}: I has ${I.size} indices for ${X.size} values`);
  let dims: number[];
  const shapeT = inputs[2] ?? null;
  if (shapeT) {
    dims = readInts(shapeT);
    if (dims.length !== X.rank) throw new ModelError(`${node.describe()}: output_shape must have ${X.rank} entries, got ${dims.length}`);
  } else {
    const kernel = node.attrInts('kernel_shape');
    if (!kernel || kernel.length !== r) throw new ModelError(`${node.describe()}: kernel_shape must list ${r} sizes`);
    const strides = node.attrInts('strides') ?? new Array<number>(r).fill(1);
    const pads = node.attrInts('pads') ?? new Array<number>(2 * r).fill(0);
    dims = [X.dims[0]!, X.dims[1]!, ...X.dims.slice(2).map((d, i) => (d - 1) * strides[i]! + kernel[i]! - pads[i]! - pads[i + r]!)];
  }
  const total = dims.reduce((a, b) => a * b, 1);
  const x = X.float32();
  const idx = readInts(I);
  const y = new Float32Array(total);
  for (let j = 0; j < idx.length; j++) {
    const k = idx[j]!;
    if (k < 0 || k >= total) throw new ModelError(`${node.describe()}: index ${k} is outside the output of ${total} elements`);
    y[k] = x[j]!;
  }
  if (X.dataType === DataType.FLOAT) return [RTensor.fromHost(DataType.FLOAT, dims, y)];
  return [RTensor.fromNumbers(X.dataType, dims, y)];
}

/** Opset 9 introduced it; 11 only widened the index type rules. */
export const MaxUnpool: OpKernel[] = [{ domain: '', opType: 'MaxUnpool', since: 9, run }];
