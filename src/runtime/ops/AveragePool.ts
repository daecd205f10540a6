/**
 * AveragePool (ONNX): the mean over each window of X [N, C, *spatial] (1-D, 2-D, 3-D); attributes
 * kernel_shape, strides, pads, auto_pad, count_include_pad (opset 7+: whether pads count in the
 * divisor), ceil_mode (opset 10+; the overhang of the last window never counts) and dilations
 * (opset 19+). See util/pool.ts; channels-last input (from a conv) stays channels-last.
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { onDevice } from '../util/device.js';
import { avgPoolChannelsLast, avgPoolNCHW, poolGeometry } from '../util/pool.js';
import { RTensor } from '../value.js';

function run(inputs: readonly (RTensor | null)[], ctx: KernelContext): (RTensor | null)[] {
  const X = required(inputs, 0, ctx);
  const node = ctx.node;
  if (X.rank < 3) throw new ModelError(`${node.describe()}: X must be [N, C, *spatial], got [${X.dims.join(',')}]`);
  const g = poolGeometry(ctx, X.dims.slice(2), ctx.opset >= 19);
  const countIncludePad = node.attrInt('count_include_pad', 0) !== 0;
  onDevice(X);
  if (X.channelsLast) return [RTensor.fromNhwc(tf.tidy(() => avgPoolChannelsLast(X.nhwc(), g, countIncludePad)) as tf.Tensor4D, X.dataType)];
  const y = tf.tidy(() => avgPoolNCHW(X.tf, g, countIncludePad));
  return [RTensor.fromTf(y, X.dataType)];
}

/** Opsets 1, 7, 10, 11 and 19 only added attributes; one kernel reads the ones its opset has. */
export const AveragePool: OpKernel[] = [{ domain: '', opType: 'AveragePool', since: 1, run }];
