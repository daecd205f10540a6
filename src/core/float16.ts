/**
 * IEEE half-precision and bfloat16 conversions (round to nearest even; NaN payloads, signed zeros and
 * infinities kept). In core/ because onnx/ (file encoding), ir/ (weights), tensor/ and runtime/ (Cast,
 * fp16 weights) all need them. The bit patterns go through a shared scratch word; the array versions
 * read the float32 bits straight from the source buffer, and float16 -> float32 is a table lookup.
 */

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 bits -> float16 bits, rounding to nearest even; overflow gives +-Inf, NaN stays NaN. */
function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  if (exp >= 143) return sign | 0x7c00; // >= 2^16: beyond the largest half (65504) even after rounding
  if (exp >= 113) {
    // Normal half: rebias the exponent, keep 10 mantissa bits, round on the 13 dropped ones. A carry out
    // of the mantissa bumps the exponent, which is exactly right (and reaches Inf from 65520 up).
    let h = ((exp - 112) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) !== 0)) h++;
    return sign | h;
  }
  if (exp < 102) return sign; // below half the smallest subnormal (2^-25): rounds to zero
  // Subnormal half: the value in units of 2^-24 is the full significand shifted right.
  const m = mant | 0x800000;
  const shift = 126 - exp;
  let h = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (h & 1) !== 0)) h++;
  return sign | h;
}

/** float16 bits -> float32 bits (exact: every half is a float). */
function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal: normalise the mantissa into a float32 normal.
  let e = 113;
  let m = mant;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

/** float32 bits -> bfloat16 bits, rounding to nearest even; NaN stays (quiet) NaN. */
function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  const bias = 0x7fff + ((x >>> 16) & 1);
  return ((x + bias) >>> 16) & 0xffff;
}

/** The float16 bit pattern nearest to `value` (ties to even). */
export function float32ToFloat16Bits(value: number): number {
  scratchF32[0] = value;
  return f32BitsToF16Bits(scratchU32[0]!);
}

/** The value of a float16 bit pattern. */
export function float16BitsToFloat32(bits: number): number {
  scratchU32[0] = f16BitsToF32Bits(bits & 0xffff);
  return scratchF32[0]!;
}

/** The bfloat16 bit pattern nearest to `value` (ties to even). */
export function float32ToBfloat16Bits(value: number): number {
  scratchF32[0] = value;
  return f32BitsToBf16Bits(scratchU32[0]!);
}

/** The value of a bfloat16 bit pattern. */
export function bfloat16BitsToFloat32(bits: number): number {
  scratchU32[0] = (bits & 0xffff) << 16;
  return scratchF32[0]!;
}

let f16Table: Float32Array | undefined;

/**
 * float16 bits -> float32 values (a 65536-entry table, built on first use, makes this a lookup), into
 * `out` when given (at least as long as `bits`: a buffer reused slab after slab costs no fresh pages).
 */
export function float16ToFloat32Array(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  if (!f16Table) {
    const table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = f16BitsToF32Bits(h);
    f16Table = new Float32Array(table.buffer);
  }
  const table = new Uint32Array(f16Table.buffer);
  const outBits = new Uint32Array(out.buffer, out.byteOffset, bits.length);
  for (let i = 0; i < bits.length; i++) outBits[i] = table[bits[i]!]!;
  return out;
}

/** float32 values -> float16 bits (ties to even). */
export function float32ToFloat16Array(values: Float32Array): Uint16Array {
  const src = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToF16Bits(src[i]!);
  return out;
}

/** bfloat16 bits -> float32 values (into `out` when given, as float16ToFloat32Array). */
export function bfloat16ToFloat32Array(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const outBits = new Uint32Array(out.buffer, out.byteOffset, bits.length);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i]! << 16;
  return out;
}

/** float32 values -> bfloat16 bits (ties to even). */
export function float32ToBfloat16Array(values: Float32Array): Uint16Array {
  const src = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToBf16Bits(src[i]!);
  return out;
}

/** Converts a whole array of float16 bits to float32 (same as float16ToFloat32Array). */
export const float16ArrayToFloat32 = float16ToFloat32Array;

/** Converts a float32 array (or plain numbers) to float16 bits. */
export function float32ArrayToFloat16(values: ArrayLike<number>): Uint16Array {
  if (values instanceof Float32Array) return float32ToFloat16Array(values);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16Bits(values[i]!);
  return out;
}
