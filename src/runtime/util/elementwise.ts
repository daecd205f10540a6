/**
 * Builders for elementwise kernels (unary, binary, variadic), shared by the arithmetic, activation,
 * comparison and logical op files.
 *
 * Each op runs on one of two paths:
 * - host: when every input lives on the host (see RTensor) and the op works on exact values (integers,
 *   bool, strings). This is the shape-arithmetic path (Shape -> Gather -> Mul -> Concat -> Reshape): int64
 *   is computed with BigInt, the narrower integers with numbers stored into the ONNX type's typed array,
 *   which wraps modulo 2^bits as C++ integer arithmetic does in onnxruntime.
 * - device: tfjs, in float32 / int32 / bool. Float16, bfloat16 and double compute in float32 and keep
 *   their ONNX data type; integer types compute in int32 and the 8/16-bit ones are wrapped back into range.
 *   Elementwise maths does not care about layout: a channels-last input (RTensor.fromNhwc, from a conv)
 *   is computed on as it is and the result stays channels-last, the other operand of a binary op being
 *   brought to the same layout (a scalar as it is, a per-channel constant reshaped, once per session).
 */
import { DataType, isFloatType } from '../../core/dtype.js';
import { arrayTypeOf, sizeOf, type NumericArray } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import type { Kernel, KernelContext, OpKernel } from '../kernel.js';
import { alias, required } from '../kernel.js';
import { RTensor, tfDtypeOf } from '../value.js';
import { broadcastDims, broadcastIndex, legacyAlignedDims } from './broadcast.js';
import { derived } from './constcache.js';

/** A host element: bigint for the 64-bit integer types, a number otherwise (bool as 0/1). */
export type HostScalar = number | bigint;

/** True for the types whose elements are exact integers (the integer types and BOOL). */
export function isIntegral(dataType: number): boolean {
  return !isFloatType(dataType) && dataType !== DataType.STRING;
}

/** True for INT64 / UINT64, whose host maths uses BigInt. */
export function isWide(dataType: number): boolean {
  return dataType === DataType.INT64 || dataType === DataType.UINT64;
}

/** True when every present input lives on the host (nothing on tfjs yet). */
export function allOnHost(xs: readonly (RTensor | null | undefined)[]): boolean {
  return xs.every((x) => !x || !x.onDevice);
}

/**
 * True when tfjs can hold the tensor's values: it is on tfjs already, or its type narrows to int32
 * losslessly, or (int64 / uint64 / uint32 on the host) every value fits int32. Exact ops whose inputs do
 * not fit compute on the host instead of failing the conversion.
 */
export function fitsDevice(x: RTensor): boolean {
  if (x.onDevice || !(isWide(x.dataType) || x.dataType === DataType.UINT32)) return true;
  const h = x.host() as ArrayLike<number | bigint>;
  for (let i = 0; i < h.length; i++) {
    const v = h[i]!;
    if (v > 2147483647 || v < -2147483648) return false;
  }
  return true;
}

/** Smallest and largest value of an integer type (as numbers; int64 bounds are only approximate). */
export function intRange(dataType: number): [number, number] {
  switch (dataType) {
    case DataType.INT8:
      return [-128, 127];
    case DataType.UINT8:
      return [0, 255];
    case DataType.INT16:
      return [-32768, 32767];
    case DataType.UINT16:
      return [0, 65535];
    case DataType.INT32:
      return [-2147483648, 2147483647];
    case DataType.UINT32:
      return [0, 4294967295];
    case DataType.INT64:
      return [-(2 ** 63), 2 ** 63 - 1];
    case DataType.UINT64:
      return [0, 2 ** 64 - 1];
    case DataType.INT4:
      return [-8, 7];
    case DataType.UINT4:
      return [0, 15];
    case DataType.BOOL:
      return [0, 1];
    default:
      return [-Infinity, Infinity];
  }
}

/**
 * The elements of a host tensor for host maths: the canonical typed array itself for integer types and
 * float32/double, decoded numbers for float16/bfloat16, BigInts when `big` (widening narrower integers).
 */
export function hostElements(t: RTensor, big: boolean): ArrayLike<HostScalar> {
  if (big && !isWide(t.dataType)) return Array.from(t.numbers(), (v) => BigInt(v));
  if (t.dataType === DataType.FLOAT16 || t.dataType === DataType.BFLOAT16) return t.numbers();
  return t.host() as NumericArray;
}

/** A canonical output array of `dataType` and a store function converting each result into it. */
export function hostOutput(dataType: number, n: number): { data: NumericArray; store: (i: number, v: HostScalar | boolean) => void } {
  const Ctor = arrayTypeOf(dataType);
  if (Ctor === 'string') throw new Error('hostOutput for strings');
  const data = new Ctor(n);
  if (dataType === DataType.BOOL) {
    const d = data as Uint8Array;
    return { data, store: (i, v) => void (d[i] = v ? 1 : 0) };
  }
  if (isWide(dataType)) {
    const d = data as BigInt64Array | BigUint64Array;
    return {
      data,
      store: (i, v) => {
        if (typeof v === 'bigint') d[i] = v;
        else {
          const x = Math.trunc(Number(v));
          d[i] = Number.isFinite(x) ? BigInt(x) : 0n;
        }
      },
    };
  }
  const d = data as Exclude<NumericArray, BigInt64Array | BigUint64Array>;
  return { data, store: (i, v) => void (d[i] = typeof v === 'bigint' ? Number(BigInt.asIntN(64, v)) : +v) };
}

/** Host maths of a binary op: on numbers (types up to 32 bits, bool), BigInts (64-bit) and byte strings. */
export interface HostBinary {
  num?: (a: number, b: number, ctx: KernelContext) => number | boolean;
  big?: (a: bigint, b: bigint, ctx: KernelContext) => bigint | boolean;
  str?: (a: Uint8Array, b: Uint8Array) => boolean;
}

/** Host maths of a unary op. */
export interface HostUnary {
  num?: (a: number) => number | boolean;
  big?: (a: bigint) => bigint | boolean;
}

/**
 * Wraps an int32 tfjs tensor into the range of an 8/16-bit ONNX integer type (modulo 2^bits, two's
 * complement), with a bit mask: tfjs-wasm's int32 Mod goes through float32 and is inexact past 2^24.
 */
export function wrapNarrow(t: tf.Tensor, dataType: number): tf.Tensor {
  const span = dataType === DataType.INT8 || dataType === DataType.UINT8 ? 256 : dataType === DataType.INT16 || dataType === DataType.UINT16 ? 65536 : 0;
  if (span === 0 || t.dtype !== 'int32') return t;
  const low = tf.bitwiseAnd(t, tf.fill(t.shape, span - 1, 'int32'));
  if (dataType === DataType.UINT8 || dataType === DataType.UINT16) return low;
  return tf.where(tf.greaterEqual(low, tf.scalar(span / 2, 'int32')), tf.sub(low, tf.scalar(span, 'int32')), low);
}

/**
 * float -> int32 as onnxruntime's static_cast does on x86 (cvttss2si): truncation toward zero, and
 * INT32_MIN for NaN, infinities and values outside int32. Narrower integer types then keep the low bits.
 */
export function floatToInt32(v: number): number {
  const t = Math.trunc(v);
  return t >= -2147483648 && t < 2147483648 ? t : -2147483648;
}

/** float -> int64 as onnxruntime on x86 (cvttsd2si): truncation, INT64_MIN for NaN / inf / out of range. */
export function floatToInt64(v: number): bigint {
  const t = Math.trunc(v);
  return t >= -(2 ** 63) && t < 2 ** 63 ? BigInt(t) : -(2n ** 63n);
}

/** floatToInt32 on tfjs (tf.cast alone wraps out-of-range values modulo 2^32). */
function tfFloatToInt32(t: tf.Tensor): tf.Tensor {
  const bad = tf.logicalOr(tf.isNaN(t), tf.logicalOr(tf.greaterEqual(t, tf.scalar(2147483648)), tf.less(t, tf.scalar(-2147483648))));
  return tf.where(bad, tf.fill(t.shape, -2147483648, 'int32'), tf.cast(t, 'int32'));
}

/**
 * Casts a tfjs result to the tfjs dtype of `dataType` (float -> int as floatToInt32) and wraps the
 * 8/16-bit integer types.
 */
export function fitDevice(t: tf.Tensor, dataType: number): tf.Tensor {
  const want = tfDtypeOf(dataType);
  if (want === 'string') throw new Error('fitDevice for strings');
  let y = t.dtype === want ? t : t.dtype === 'float32' && want === 'int32' ? tfFloatToInt32(t) : tf.cast(t, want);
  if (want === 'int32') y = wrapNarrow(y, dataType);
  return y;
}

/**
 * Runs tfjs maths in a tidy scope (temporaries are freed) and wraps the result as `dataType`. The inputs'
 * tfjs tensors must be taken (`x.tf`) before calling: a host input converted inside the scope would be
 * disposed with the temporaries while its RTensor still holds it.
 */
export function tfCompute(dataType: number, inputs: readonly tf.Tensor[], fn: () => tf.Tensor, channelsLast = false): RTensor {
  const y = tf.tidy(() => {
    const r = fitDevice(fn(), dataType);
    // A kernel returns new tensors only: a pass-through result becomes a clone (shares memory).
    return inputs.includes(r) ? tf.clone(r) : r;
  });
  return channelsLast ? RTensor.fromNhwc(y as tf.Tensor4D, dataType) : RTensor.fromTf(y, dataType);
}

/** `x`'s tfjs tensor in its own layout (channels-last when it is held so), with that layout's flag. */
export function physical(x: RTensor): { t: tf.Tensor; channelsLast: boolean } {
  return x.channelsLast ? { t: x.nhwc(), channelsLast: true } : { t: x.tf, channelsLast: false };
}

/**
 * The operand `x` (seen with `dims`, which broadcast to a rank-4 output) laid out to broadcast against
 * channels-last tensors: as held when channels-last, a scalar as it is, else its dims padded to rank 4
 * and moved to [N, H, W, C] (a reshape for a per-channel [C, 1, 1]), kept per session for constants.
 * Call inside a tidy.
 */
function nhwcOperand(x: RTensor, dims: readonly number[]): tf.Tensor {
  if (x.channelsLast) return x.nhwc();
  if (x.size === 1) return tf.reshape(x.tf, []);
  const padded = [...new Array<number>(4 - dims.length).fill(1), ...dims];
  return derived(x, `nhwc:${padded.join('x')}`, (t) => tf.transpose(tf.reshape(t, padded), [0, 2, 3, 1])).t;
}

/** `binary` on channels-last data, or undefined when the shapes do not allow it (an output rank other than 4). */
function binaryNhwc(a: RTensor, b: RTensor, spec: BinarySpec, outType: number, ctx: KernelContext, bDims: readonly number[]): RTensor | undefined {
  const outDims = broadcastDims([a.dims, bDims], ctx);
  if (outDims.length !== 4 || (b.channelsLast && !sameDims(b.dims, bDims))) return undefined;
  // Host operands convert to tfjs outside the tidy, which would free what RTensor.tf converts lazily.
  for (const x of [a, b]) if (!x.channelsLast) void x.tf;
  return tfCompute(outType, [], () => {
    const ta = nhwcOperand(a, a.dims);
    const tb = nhwcOperand(b, bDims);
    const y = spec.device(ta, tb, outType, ctx);
    return y === ta || y === tb ? tf.clone(y) : y;
  }, true);
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * min(max(x, lo), hi) on tfjs (lo <= hi), with NaN staying NaN on every backend.
 *
 * Float: tf.clipByValue, times step(x, 1) (1 everywhere but NaN, which it keeps): tfjs-wasm's
 * ClipByValue turns NaN into a bound, and its Maximum/Minimum, which would keep it, take ~10x as long
 * (a generic broadcasting loop, where ClipByValue and Step are XNNPACK clamps: 28 Clips cost 105 ms of
 * ppocr-rec-v4's 336 ms that way). Both are differentiable: ClipByValue's gradient is dy inside
 * [lo, hi], as max/min's was, and Step's is zero. Int32 (ClipByValue is float-only on wasm): max/min.
 */
export function clamp(x: tf.Tensor, lo: number, hi: number): tf.Tensor {
  if (x.dtype === 'float32') return tf.mul(tf.clipByValue(x, lo, hi), tf.step(x, 1));
  return tf.minimum(tf.maximum(x, tf.scalar(lo, x.dtype)), tf.scalar(hi, x.dtype));
}

/** Reshapes a tfjs tensor when its shape differs from `dims` (inside a tidy scope). */
function shaped(t: tf.Tensor, dims: readonly number[]): tf.Tensor {
  return t.shape.length === dims.length && t.shape.every((d, i) => d === dims[i]) ? t : tf.reshape(t, dims as number[]);
}

/** Computes a binary op on the host with broadcasting; `bDims` may re-shape B (legacy broadcast). */
export function hostBinary(a: RTensor, b: RTensor, outType: number, fn: HostBinary, ctx: KernelContext, bDims: readonly number[] = b.dims): RTensor {
  const outDims = broadcastDims([a.dims, bDims], ctx);
  const n = sizeOf(outDims);
  const ia = broadcastIndex(a.dims, outDims);
  const ib = broadcastIndex(bDims, outDims);
  if (a.dataType === DataType.STRING) {
    const A = a.host() as Uint8Array[];
    const B = b.host() as Uint8Array[];
    const { data, store } = hostOutput(outType, n);
    for (let i = 0; i < n; i++) store(i, fn.str!(A[ia ? ia[i]! : i]!, B[ib ? ib[i]! : i]!));
    return RTensor.fromHost(outType, outDims, data);
  }
  const big = isWide(a.dataType) || isWide(b.dataType);
  const A = hostElements(a, big);
  const B = hostElements(b, big);
  const f = (big ? fn.big : fn.num) as ((x: HostScalar, y: HostScalar, c: KernelContext) => HostScalar | boolean) | undefined;
  if (!f) throw new Error(`no host maths for ${ctx.node.describe()}`);
  const { data, store } = hostOutput(outType, n);
  for (let i = 0; i < n; i++) store(i, f(A[ia ? ia[i]! : i]!, B[ib ? ib[i]! : i]!, ctx));
  return RTensor.fromHost(outType, outDims, data);
}

/** A binary elementwise op: its host maths (exact types) and its tfjs maths. */
export interface BinarySpec {
  /** The output type from the input types (default: A's type). */
  outType?: (a: number, b: number) => number;
  /** Exact maths for integer / bool / string inputs that live on the host. */
  host?: HostBinary;
  /**
   * Integer inputs use the host maths even when they live on tfjs (read back once): for ops whose tfjs
   * int32 kernels go through float32 on some backend (tfjs-wasm's FloorDiv and Mod), inexact past 2^24.
   */
  hostAlways?: boolean;
  /** tfjs maths on float32 / int32 / bool tensors; `outType` is the ONNX type of the result. */
  device: (a: tf.Tensor, b: tf.Tensor, outType: number, ctx: KernelContext) => tf.Tensor;
}

/** Applies a binary op to two RTensors (host path when exact and host-resident, else tfjs). */
export function binary(a: RTensor, b: RTensor, spec: BinarySpec, ctx: KernelContext, bDims: readonly number[] = b.dims): RTensor {
  const outType = spec.outType ? spec.outType(a.dataType, b.dataType) : a.dataType;
  const exact = (isIntegral(a.dataType) && isIntegral(b.dataType)) || a.dataType === DataType.STRING;
  if (spec.host && exact && (spec.hostAlways || allOnHost([a, b]) || !fitsDevice(a) || !fitsDevice(b))) return hostBinary(a, b, outType, spec.host, ctx, bDims);
  broadcastDims([a.dims, bDims], ctx); // a shape error names the node rather than surfacing from tfjs
  if (a.channelsLast || b.channelsLast) {
    const y = binaryNhwc(a, b, spec, outType, ctx, bDims);
    if (y) return y;
  }
  const ta = a.tf;
  const tb = b.tf;
  return tfCompute(outType, [ta, tb], () => spec.device(ta, shaped(tb, bDims), outType, ctx));
}

/**
 * A binary kernel. `legacy` is the pre-opset-7 form, where B is broadcast onto A only with `broadcast=1`
 * and may be aligned at `axis`.
 */
export function binaryKernel(spec: BinarySpec, legacy = false): Kernel {
  return (inputs, ctx) => {
    const a = required(inputs, 0, ctx);
    const b = required(inputs, 1, ctx);
    return [binary(a, b, spec, ctx, legacy ? legacyAlignedDims(a.dims, b.dims, ctx) : b.dims)];
  };
}

/**
 * A variadic kernel (Sum, Max, Min, Mean): folds the binary op over all inputs with broadcasting; `finish`
 * post-processes the fold (Mean divides by the count). One input is passed through.
 */
export function variadicKernel(spec: BinarySpec, finish?: (acc: RTensor, count: number, ctx: KernelContext) => RTensor): Kernel {
  return (inputs, ctx) => {
    const xs = inputs.filter((x): x is RTensor => x !== null);
    if (xs.length === 0) required(inputs, 0, ctx);
    let acc = xs[0]!;
    for (let i = 1; i < xs.length; i++) {
      const next = binary(acc, xs[i]!, spec, ctx);
      if (acc !== xs[0]) acc.dispose();
      acc = next;
    }
    if (finish) {
      const done = finish(acc, xs.length, ctx);
      if (acc !== xs[0]) acc.dispose();
      return [done];
    }
    return [acc === xs[0] ? alias(acc) : acc];
  };
}

/** A unary elementwise op: its host maths (exact types) and its tfjs maths. */
export interface UnarySpec {
  outType?: (t: number) => number;
  host?: HostUnary;
  device: (x: tf.Tensor, ctx: KernelContext, dataType: number) => tf.Tensor;
}

/** Applies a unary op to an RTensor (host path when exact and host-resident, else tfjs). */
export function unary(x: RTensor, spec: UnarySpec, ctx: KernelContext): RTensor {
  const outType = spec.outType ? spec.outType(x.dataType) : x.dataType;
  if (spec.host && isIntegral(x.dataType) && !x.onDevice) {
    const big = isWide(x.dataType);
    const f = (big ? spec.host.big : spec.host.num) as ((v: HostScalar) => HostScalar | boolean) | undefined;
    if (f) {
      const src = hostElements(x, big);
      const { data, store } = hostOutput(outType, x.size);
      for (let i = 0; i < x.size; i++) store(i, f(src[i]!));
      return RTensor.fromHost(outType, x.dims, data);
    }
  }
  const { t, channelsLast } = physical(x);
  return tfCompute(outType, [t], () => spec.device(t, ctx, x.dataType), channelsLast);
}

/** A unary kernel. */
export function unaryKernel(spec: UnarySpec): Kernel {
  return (inputs, ctx) => [unary(required(inputs, 0, ctx), spec, ctx)];
}

/** The OpKernel entries of an ai.onnx op: one (since-version, kernel) pair per semantics change. */
export function versions(opType: string, entries: [since: number, run: Kernel][]): OpKernel[] {
  return entries.map(([since, run]) => ({ domain: '', opType, since, run }));
}
