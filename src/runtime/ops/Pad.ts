/**
 * Pad (ONNX). Pads are [begin_0, begin_1, ..., end_0, end_1, ...] (negative pads crop): the attribute
 * `paddings` at opset 1, `pads` at 2, an INT64 input from 11 (with an optional `constant_value` input),
 * and from 18 an optional `axes` input naming which axes the pads are for. Modes: constant, reflect
 * (mirror without repeating the edge), edge (repeat the edge), and wrap (opset 19, periodic).
 */
import { ModelError } from '../../core/errors.js';
import { sizeOf } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { computeOnHostFor, firstElement, gatherFlat, hostArrayOf, mapIndexWithFill, stridesOf, zeroOf, type Element } from '../util/host.js';
import { normAxes, readInts } from '../util/ints.js';
import { RTensor, toCanonical } from '../value.js';

type Mode = 'constant' | 'reflect' | 'edge' | 'wrap';

/** The input coordinate read by output coordinate `c` on an axis of size `d` with `begin` padding, or -1 for the constant. */
function sourceCoord(mode: Mode, c: number, begin: number, d: number): number {
  const i = c - begin;
  if (i >= 0 && i < d) return i;
  switch (mode) {
    case 'constant':
      return -1;
    case 'edge':
      return i < 0 ? 0 : d - 1;
    case 'wrap':
      return ((i % d) + d) % d;
    case 'reflect': {
      if (d === 1) return 0;
      const period = 2 * (d - 1);
      let m = Math.abs(i) % period;
      if (m >= d) m = period - m;
      return m;
    }
  }
}

function pad(x: RTensor, padsIn: number[], mode: string, value: Element, axesIn: number[] | undefined, ctx: KernelContext): RTensor[] {
  const allowed: string[] = ctx.opset >= 19 ? ['constant', 'reflect', 'edge', 'wrap'] : ['constant', 'reflect', 'edge'];
  if (!allowed.includes(mode)) throw new ModelError(`${ctx.node.describe()}: mode '${mode}' is not one of ${allowed.join(', ')} at opset ${ctx.opset}`);
  const m = mode as Mode;
  const rank = x.rank;
  const axes = axesIn ? normAxes(axesIn, rank, ctx) : Array.from({ length: rank }, (_, i) => i);
  if (padsIn.length !== 2 * axes.length) throw new ModelError(`${ctx.node.describe()}: ${padsIn.length} pads for ${axes.length} axes (need 2 per axis)`);
  const begin = new Array<number>(rank).fill(0);
  const end = new Array<number>(rank).fill(0);
  axes.forEach((a, i) => {
    begin[a] = padsIn[i]!;
    end[a] = padsIn[i + axes.length]!;
  });
  const outDims = x.dims.map((d, a) => d + begin[a]! + end[a]!);
  outDims.forEach((d, a) => {
    if (d < 0) throw new ModelError(`${ctx.node.describe()}: pads crop axis ${a} below zero`);
    if (m !== 'constant' && x.dims[a] === 0 && d > 0) throw new ModelError(`${ctx.node.describe()}: mode '${m}' cannot pad the empty axis ${a}`);
  });
  if (computeOnHostFor(sizeOf(outDims), x)) {
    const strides = stridesOf(x.dims);
    const src = mapIndexWithFill(outDims, (a, c) => {
      const s = sourceCoord(m, c, begin[a]!, x.dims[a]!);
      return s < 0 ? -1 : s * strides[a]!;
    });
    return [gatherFlat(x, outDims, src, true, value)];
  }
  const xt = x.tf;
  const t = tf.tidy(() => {
    let y = xt;
    if (m === 'constant') {
      // Crop the negative pads first, then let tf.pad add the positive ones.
      const cropBegin = begin.map((b) => Math.max(0, -b));
      const cropSize = x.dims.map((d, a) => d - cropBegin[a]! - Math.max(0, -end[a]!));
      if (cropBegin.some((b) => b > 0) || cropSize.some((s, a) => s !== x.dims[a])) y = tf.slice(y, cropBegin, cropSize);
      const fill = RTensor.fromHost(x.dataType, [], hostArrayOf(x.dataType, [value])).numbers()[0]!;
      return tf.pad(y, begin.map((b, a) => [Math.max(0, b), Math.max(0, end[a]!)] as [number, number]), fill);
    }
    // Edge, reflect and wrap are separable: one gather of explicit source coordinates per padded axis.
    for (let a = 0; a < rank; a++) {
      if (begin[a] === 0 && end[a] === 0) continue;
      const idx = Int32Array.from({ length: outDims[a]! }, (_, c) => sourceCoord(m, c, begin[a]!, x.dims[a]!));
      y = tf.gather(y, tf.tensor1d(idx, 'int32'), a);
    }
    return y === xt ? tf.clone(y) : y;
  });
  return [RTensor.fromTf(t, x.dataType)];
}

/** The canonical fill element from a float attribute, in the data's type. */
function attrValue(x: RTensor, v: number): Element {
  return toCanonical(x.dataType, [v])[0]!;
}

/** Pad-11+: pads, constant_value and (from 18) axes are inputs. */
function padInputs(inputs: readonly (RTensor | null)[], ctx: KernelContext, withAxes: boolean): RTensor[] {
  const x = required(inputs, 0, ctx);
  const value = inputs[2] && inputs[2].size > 0 ? firstElement(inputs[2]) : zeroOf(x.dataType);
  const axes = withAxes && inputs[3] ? readInts(inputs[3]) : undefined;
  return pad(x, readInts(required(inputs, 1, ctx)), ctx.node.attrString('mode', 'constant'), value, axes, ctx);
}

export const Pad: OpKernel[] = [
  {
    domain: '',
    opType: 'Pad',
    since: 1,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      const pads = ctx.node.attrInts('paddings');
      if (!pads) throw new ModelError(`${ctx.node.describe()} (opset ${ctx.opset}) needs the 'paddings' attribute`);
      return pad(x, pads, ctx.node.attrString('mode', 'constant'), attrValue(x, ctx.node.attrFloat('value', 0)), undefined, ctx);
    },
  },
  {
    domain: '',
    opType: 'Pad',
    since: 2,
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      const pads = ctx.node.attrInts('pads');
      if (!pads) throw new ModelError(`${ctx.node.describe()} (opset ${ctx.opset}) needs the 'pads' attribute`);
      return pad(x, pads, ctx.node.attrString('mode', 'constant'), attrValue(x, ctx.node.attrFloat('value', 0)), undefined, ctx);
    },
  },
  { domain: '', opType: 'Pad', since: 11, run: (inputs, ctx) => padInputs(inputs, ctx, false) },
  // Opset 18: the optional `axes` input; 19: the `wrap` mode (checked against ctx.opset in pad()).
  { domain: '', opType: 'Pad', since: 18, run: (inputs, ctx) => padInputs(inputs, ctx, true) },
  { domain: '', opType: 'Pad', since: 19, run: (inputs, ctx) => padInputs(inputs, ctx, true) },
];
