/**
 * Host-side helpers shared by the shape and indexing kernels.
 *
 * Index and shape tensors (int64 in ONNX) are small and must stay exact, so they live on the host as the
 * IR's canonical typed arrays and are computed with plain TypeScript. Data tensors move through tfjs.
 * Most indexing ops (Transpose, Slice, Gather, Pad, Tile, ...) are "element gathers": every output
 * element copies one input element, so one routine (`gatherFlat`) serves them all, on either side:
 * on the host it copies from any typed array (int64, strings, fp16 bits stay bit-exact); on tfjs it is
 * one tf.gather over the flattened tensor.
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { arrayTypeOf, sizeOf, type NumericArray, type TensorData } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import type { KernelContext } from '../kernel.js';
import { RTensor, tfDtypeOf } from '../value.js';

/**
 * Below this many elements a tensor that is already on the host is computed on the host: a tfjs call
 * costs tens of microseconds of dispatch, more than copying a thousand elements in a JS loop.
 */
export const HOST_LIMIT = 1024;

/** One element of a canonical host array (a number, a bigint for 64-bit ints, bytes for strings). */
export type Element = number | bigint | Uint8Array;

/** Row-major strides of `dims`. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}

/** A zero-filled canonical host array of `n` elements of `dataType` (empty byte strings for STRING). */
export function allocHost(dataType: number, n: number): TensorData {
  const Ctor = arrayTypeOf(dataType);
  if (Ctor === 'string') return Array.from({ length: n }, () => new Uint8Array(0));
  return new Ctor(n);
}

/** The canonical zero of a data type. */
export function zeroOf(dataType: number): Element {
  if (dataType === DataType.INT64 || dataType === DataType.UINT64) return 0n;
  if (dataType === DataType.STRING) return new Uint8Array(0);
  return 0;
}

/** The first element of a tensor in canonical form (a scalar's value). */
export function firstElement(t: RTensor): Element {
  const h = t.host();
  if (h.length === 0) throw new ModelError(`expected a value, got an empty ${t.dims.length}-d tensor`);
  return h[0]!;
}

/** True for ONNX types that tfjs cannot hold exactly (int64/uint64/uint32 may overflow int32; double loses bits). */
function inexactOnDevice(dataType: number): boolean {
  return dataType === DataType.INT64 || dataType === DataType.UINT64 || dataType === DataType.UINT32 || dataType === DataType.DOUBLE || dataType === DataType.STRING;
}

/**
 * Where an indexing op on `xs` should run: on the host when none of them is on tfjs already and either
 * the type needs exact host arithmetic (int64, double, strings) or the data is small; else on tfjs.
 */
export function computeOnHost(...xs: (RTensor | null | undefined)[]): boolean {
  let any = false;
  for (const x of xs) {
    if (!x) continue;
    if (x.dataType === DataType.STRING) return true;
    if (x.onDevice) return false;
    any = true;
  }
  if (!any) return true;
  for (const x of xs) if (x && !inexactOnDevice(x.dataType) && x.size > HOST_LIMIT) return false;
  return true;
}

/**
 * Like `computeOnHost`, for ops whose output can be much larger than their inputs (Expand, Tile, Pad):
 * a small host input expanded to a large float output goes to tfjs, where its consumers will want it.
 */
export function computeOnHostFor(outSize: number, ...xs: (RTensor | null | undefined)[]): boolean {
  if (!computeOnHost(...xs)) return false;
  return outSize <= HOST_LIMIT * 64 || xs.some((x) => x && inexactOnDevice(x.dataType));
}

/** Wraps a tfjs result as a new RTensor, cloning if tfjs handed back an input object unchanged. */
export function fromTfResult(t: tf.Tensor, dataType: number, ...inputs: RTensor[]): RTensor {
  for (const x of inputs) if (x.onDevice && x.tf === t) return RTensor.fromTf(tf.clone(t), dataType);
  return RTensor.fromTf(t, dataType);
}

/** `x` viewed with new dims (same data; tfjs reshape shares memory, a host array is shared as is). */
export function reshaped(x: RTensor, dims: number[]): RTensor {
  if (sizeOf(dims) !== x.size) throw new ModelError(`cannot view ${x.size} elements as [${dims.join(',')}]`);
  if (x.onDevice) return RTensor.fromTf(tf.reshape(x.tf, dims), x.dataType);
  return RTensor.fromHost(x.dataType, dims, x.host());
}

/**
 * Output element i copies input element `src[i]` (flat, row-major); a negative entry takes `fill`.
 * Runs on the host or on tfjs (one tf.gather over the flattened tensor) as `onHost` says.
 */
export function gatherFlat(x: RTensor, outDims: number[], src: Int32Array, onHost: boolean, fill: Element = zeroOf(x.dataType)): RTensor {
  const n = src.length;
  if (onHost) {
    const data = x.host();
    const out = allocHost(x.dataType, n) as unknown as Element[];
    const d = data as unknown as Element[];
    for (let i = 0; i < n; i++) {
      const s = src[i]!;
      out[i] = s < 0 ? fill : d[s]!;
    }
    return RTensor.fromHost(x.dataType, outDims, out as unknown as TensorData);
  }
  let hasFill = false;
  for (let i = 0; i < n && !hasFill; i++) if (src[i]! < 0) hasFill = true;
  // x.tf is touched outside the tidy: a tensor created lazily inside it would be freed at its end
  // while the RTensor (perhaps a constant kept across runs) still pointed at it.
  const xt = x.tf;
  const t = tf.tidy(() => {
    let flat = tf.reshape(xt, [x.size]);
    let idx = src;
    if (hasFill) {
      // Append the fill value as one extra element and point the negative entries at it.
      const fillT = RTensor.fromHost(x.dataType, [1], hostArrayOf(x.dataType, [fill]));
      flat = tf.concat([flat, fillT.tf]);
      fillT.dispose();
      idx = new Int32Array(n);
      for (let i = 0; i < n; i++) idx[i] = src[i]! < 0 ? x.size : src[i]!;
    }
    if (n === 0) return tf.zeros(outDims, flat.dtype);
    return tf.reshape(tf.gather(flat, tf.tensor1d(idx, 'int32')), outDims);
  });
  return RTensor.fromTf(t, x.dataType);
}

/** A canonical host array holding the given canonical elements. */
export function hostArrayOf(dataType: number, elements: Element[]): TensorData {
  const out = allocHost(dataType, elements.length) as unknown as Element[];
  for (let i = 0; i < elements.length; i++) out[i] = elements[i]!;
  return out as unknown as TensorData;
}

/** A tensor of `dims` whose elements are all `value` (canonical), on the host or on tfjs. */
export function filled(dataType: number, dims: number[], value: Element, onHost: boolean): RTensor {
  const n = sizeOf(dims);
  if (onHost || dataType === DataType.STRING || inexactOnDevice(dataType)) {
    const out = allocHost(dataType, n) as unknown as Element[];
    for (let i = 0; i < n; i++) out[i] = value;
    return RTensor.fromHost(dataType, dims, out as unknown as TensorData);
  }
  const v = RTensor.fromHost(dataType, [1], hostArrayOf(dataType, [value])).numbers()[0]!;
  return RTensor.fromTf(tf.fill(dims, v, tfDtypeOf(dataType) as 'float32' | 'int32' | 'bool'), dataType);
}

/** Index map of a transpose: output flat index -> input flat index. */
export function transposeIndex(dims: readonly number[], perm: readonly number[]): Int32Array {
  const rank = dims.length;
  const outDims = perm.map((p) => dims[p]!);
  const inStrides = stridesOf(dims);
  const permStrides = perm.map((p) => inStrides[p]!);
  const n = sizeOf(dims);
  const src = new Int32Array(n);
  const counter = new Array<number>(rank).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    src[i] = off;
    // Odometer increment over the output dims, tracking the input offset incrementally.
    for (let a = rank - 1; a >= 0; a--) {
      counter[a]!++;
      off += permStrides[a]!;
      if (counter[a]! < outDims[a]!) break;
      off -= permStrides[a]! * outDims[a]!;
      counter[a] = 0;
    }
  }
  return src;
}

/** Transposes `x` by `perm` on the host or on tfjs. */
export function transposed(x: RTensor, perm: number[], onHost = computeOnHost(x)): RTensor {
  const outDims = perm.map((p) => x.dims[p]!);
  if (perm.every((p, i) => p === i)) return reshaped(x, outDims);
  if (onHost) return gatherFlat(x, outDims, transposeIndex(x.dims, perm), true);
  return RTensor.fromTf(tf.transpose(x.tf, perm), x.dataType);
}

/** Numpy-style broadcast of two shapes, or a ModelError naming the node. */
export function broadcastDims(a: readonly number[], b: readonly number[], ctx: KernelContext): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new ModelError(`${ctx.node.describe()}: shapes [${a.join(',')}] and [${b.join(',')}] do not broadcast`);
    out[i] = x === 1 ? y : x;
  }
  return out;
}

/** Index map of broadcasting `dims` to `outDims` (same rank after left-padding with ones). */
export function broadcastIndex(dims: readonly number[], outDims: readonly number[]): Int32Array {
  const rank = outDims.length;
  const padded = [...new Array<number>(rank - dims.length).fill(1), ...dims];
  const inStrides = stridesOf(padded).map((s, i) => (padded[i] === 1 ? 0 : s));
  return mapIndex(outDims, (a, c) => c * inStrides[a]!);
}

/**
 * Builds an index map for `outDims` where the input offset is a sum over axes of `term(axis, coord)`.
 * Precomputes each axis's terms once, so the loop is additions only.
 */
export function mapIndex(outDims: readonly number[], term: (axis: number, coord: number) => number): Int32Array {
  const rank = outDims.length;
  const n = sizeOf(outDims);
  const src = new Int32Array(n);
  if (n === 0) return src;
  const terms = outDims.map((d, a) => Int32Array.from({ length: d }, (_, c) => term(a, c)));
  const counter = new Array<number>(rank).fill(0);
  let off = 0;
  for (let a = 0; a < rank; a++) off += terms[a]![0]!;
  for (let i = 0; i < n; i++) {
    src[i] = off;
    for (let a = rank - 1; a >= 0; a--) {
      const t = terms[a]!;
      const c = counter[a]!;
      if (c + 1 < outDims[a]!) {
        off += t[c + 1]! - t[c]!;
        counter[a] = c + 1;
        break;
      }
      off += t[0]! - t[c]!;
      counter[a] = 0;
    }
  }
  return src;
}

/**
 * Like `mapIndex`, but an axis term of -1 marks an element that takes the fill value (Pad's constant,
 * Resize's extrapolation): any -1 term makes the whole entry -1.
 */
export function mapIndexWithFill(outDims: readonly number[], term: (axis: number, coord: number) => number): Int32Array {
  const rank = outDims.length;
  const n = sizeOf(outDims);
  const src = new Int32Array(n);
  const terms = outDims.map((d, a) => Int32Array.from({ length: d }, (_, c) => term(a, c)));
  const counter = new Array<number>(rank).fill(0);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let a = 0; a < rank; a++) {
      const t = terms[a]![counter[a]!]!;
      if (t < 0) {
        off = -1;
        break;
      }
      off += t;
    }
    src[i] = off;
    for (let a = rank - 1; a >= 0; a--) {
      if (++counter[a]! < outDims[a]!) break;
      counter[a] = 0;
    }
  }
  return src;
}

/** Copies a canonical array (typed arrays by .slice, strings by reference: they are never mutated). */
export function copyHost(data: TensorData): TensorData {
  return Array.isArray(data) ? data.slice() : (data as NumericArray).slice();
}

/** Copies `len` elements between canonical arrays of the same type. */
export function copyBlock(dst: TensorData, dstOff: number, src: TensorData, srcOff: number, len: number): void {
  if (Array.isArray(dst)) {
    const s = src as Uint8Array[];
    for (let i = 0; i < len; i++) dst[dstOff + i] = s[srcOff + i]!;
    return;
  }
  const d = dst as Float32Array;
  d.set((src as Float32Array).subarray(srcOff, srcOff + len), dstOff);
}

/** The slice [start, start+len) of `x` along `axis`, on the host or on tfjs. */
export function sliceAlong(x: RTensor, axis: number, start: number, len: number, onHost: boolean): RTensor {
  const outDims = x.dims.slice();
  outDims[axis] = len;
  if (onHost) {
    const outer = sizeOf(x.dims.slice(0, axis));
    const inner = sizeOf(x.dims.slice(axis + 1));
    const d = x.dims[axis]!;
    const out = allocHost(x.dataType, sizeOf(outDims));
    const src = x.host();
    for (let o = 0; o < outer; o++) copyBlock(out, o * len * inner, src, (o * d + start) * inner, len * inner);
    return RTensor.fromHost(x.dataType, outDims, out);
  }
  const begin = x.dims.map((_, i) => (i === axis ? start : 0));
  return RTensor.fromTf(tf.slice(x.tf, begin, outDims), x.dataType);
}
