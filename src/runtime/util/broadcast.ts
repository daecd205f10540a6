/**
 * Multidirectional (numpy-style) broadcasting as ONNX defines it since opset 7
 * (onnx/docs/Broadcasting.md): shapes are right-aligned, and each pair of dims must be equal or one of
 * them 1. tfjs broadcasts the same way, so the device path only needs the output shape; the host path
 * (exact integer maths in plain TS) also needs, for every output element, the element of each input.
 *
 * Before opset 7, binary ops broadcast only B onto A, and only when the node says `broadcast=1`, with B's
 * dims placed at `axis` of A (legacyAlignedDims).
 */
import { ModelError } from '../../core/errors.js';
import type { KernelContext } from '../kernel.js';

/** The broadcast shape of several shapes; throws a ModelError naming the node when they do not fit. */
export function broadcastDims(shapes: readonly (readonly number[])[], ctx: KernelContext): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    for (let i = 0; i < s.length; i++) {
      const d = s[i]!;
      const o = out[off + i]!;
      if (d === o || d === 1) continue;
      if (o === 1) out[off + i] = d;
      else {
        throw new ModelError(
          `${ctx.node.describe()}: shapes ${shapes.map((x) => `[${x.join(',')}]`).join(', ')} cannot be broadcast together (opset ${ctx.opset})`,
        );
      }
    }
  }
  return out;
}

/**
 * For each element of a tensor of shape `outDims` (row-major), the flat index of the element of an input
 * of shape `inDims` that broadcasting maps onto it; null when the shapes are equal (the identity).
 */
export function broadcastIndex(inDims: readonly number[], outDims: readonly number[]): Int32Array | null {
  if (inDims.length === outDims.length && inDims.every((d, i) => d === outDims[i])) return null;
  const rank = outDims.length;
  const off = rank - inDims.length;
  // Stride of each output axis in the input (0 where the input is broadcast along it).
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = inDims.length - 1; i >= 0; i--) {
    strides[off + i] = inDims[i] === 1 ? 0 : s;
    s *= inDims[i]!;
  }
  let n = 1;
  for (const d of outDims) n *= d;
  const idx = new Int32Array(n);
  const counter = new Array<number>(rank).fill(0);
  let cur = 0;
  for (let k = 0; k < n; k++) {
    idx[k] = cur;
    // Odometer increment over the output index, updating the input offset incrementally.
    for (let ax = rank - 1; ax >= 0; ax--) {
      counter[ax]!++;
      cur += strides[ax]!;
      if (counter[ax]! < outDims[ax]!) break;
      cur -= strides[ax]! * counter[ax]!;
      counter[ax] = 0;
    }
  }
  return idx;
}

/**
 * B's dims for the pre-opset-7 broadcast of binary ops: with `broadcast=1`, B's shape is matched against
 * A's starting at `axis` (default: suffix matching), which numpy broadcasting reproduces once B gets
 * trailing 1s. Returns B's dims unchanged when the node does not ask for broadcasting.
 */
export function legacyAlignedDims(aDims: readonly number[], bDims: readonly number[], ctx: KernelContext): number[] {
  if (ctx.node.attrInt('broadcast', 0) !== 1) return bDims.slice();
  const axisAttr = ctx.node.attrInt('axis');
  const axis = axisAttr === undefined ? aDims.length - bDims.length : axisAttr < 0 ? axisAttr + aDims.length : axisAttr;
  const trailing = aDims.length - axis - bDims.length;
  if (axis < 0 || trailing < 0) {
    throw new ModelError(`${ctx.node.describe()}: B of shape [${bDims.join(',')}] cannot be broadcast onto A of shape [${aDims.join(',')}] at axis ${axisAttr ?? 'default'} (opset ${ctx.opset})`);
  }
  return [...bDims, ...new Array<number>(trailing).fill(1)];
}
