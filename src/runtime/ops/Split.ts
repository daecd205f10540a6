/**
 * Split (ONNX): cuts a tensor along `axis` (default 0) into consecutive parts. The part lengths come
 * from the `split` input (opset 1 and 13+) or attribute (opsets 1-12); without them the outputs are
 * equal parts. Opset 18 adds `num_outputs`: parts of ceil(dim / n), the last one taking the remainder.
 */
import { ModelError } from '../../core/errors.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { normAxis, required } from '../kernel.js';
import { computeOnHost, sliceAlong } from '../util/host.js';
import { readInts } from '../util/ints.js';
import type { RTensor } from '../value.js';

function split(x: RTensor, sizes: number[] | undefined, ctx: KernelContext, numOutputs?: number): RTensor[] {
  const axis = normAxis(ctx.node.attrInt('axis', 0), x.rank, ctx);
  const dim = x.dims[axis]!;
  const n = ctx.node.outputs.length;
  let parts: number[];
  if (sizes) {
    parts = sizes;
    if (parts.length !== n || parts.reduce((a, b) => a + b, 0) !== dim || parts.some((p) => p < 0)) {
      throw new ModelError(`${ctx.node.describe()}: split [${parts.join(',')}] does not cut a dim of ${dim} into ${n} outputs`);
    }
  } else if (numOutputs !== undefined) {
    if (numOutputs !== n) throw new ModelError(`${ctx.node.describe()}: num_outputs ${numOutputs} but the node has ${n} outputs`);
    const chunk = Math.ceil(dim / n);
    parts = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
  } else {
    if (dim % n !== 0) throw new ModelError(`${ctx.node.describe()}: cannot split a dim of ${dim} into ${n} equal parts`, 'give split sizes');
    parts = new Array<number>(n).fill(dim / n);
  }
  const onHost = computeOnHost(x);
  let start = 0;
  return parts.map((len) => {
    const part = sliceAlong(x, axis, start, len, onHost);
    start += len;
    return part;
  });
}

export const Split: OpKernel[] = [
  {
    domain: '',
    opType: 'Split',
    since: 1,
    run: (inputs, ctx) => split(required(inputs, 0, ctx), inputs[1] ? readInts(inputs[1]) : ctx.node.attrInts('split'), ctx),
  },
  { domain: '', opType: 'Split', since: 2, run: (inputs, ctx) => split(required(inputs, 0, ctx), ctx.node.attrInts('split'), ctx) },
  { domain: '', opType: 'Split', since: 13, run: (inputs, ctx) => split(required(inputs, 0, ctx), inputs[1] ? readInts(inputs[1]) : undefined, ctx) },
  {
    domain: '',
    opType: 'Split',
    since: 18,
    run: (inputs, ctx) => {
      const sizes = inputs[1] ? readInts(inputs[1]) : undefined;
      const num = ctx.node.attrInt('num_outputs');
      if (sizes && num !== undefined) throw new ModelError(`${ctx.node.describe()}: give either the split input or num_outputs, not both`);
      return split(required(inputs, 0, ctx), sizes, ctx, num);
    },
  },
];
