/**
 * Type conversion for Cast and CastLike, between every ONNX type we hold: the integer types (int4 to
 * int64), bool, float32/64, float16, bfloat16, the float8 and float4 types, and strings.
 *
 * Rules (the ONNX Cast spec; where it says "undefined", what onnxruntime's static_cast does on x86 or,
 * failing that, what JS typed arrays do, the same on host and on tfjs):
 * - float -> integer truncates toward zero. Out of range (undefined in C++) it does what onnxruntime does on
 *   x86: through int32, where NaN, inf and overflow become INT32_MIN, keeping the low 8/16 bits for the
 *   narrower types (so 300.7 -> int8 44, 1e10 -> int8 0); int64 gets INT64_MIN; uint32 / uint64 wrap.
 * - integer -> narrower integer wraps modulo 2^bits (two's complement reinterpretation).
 * - -> int4 / uint4 rounds half to even and clips to [-8, 7] / [0, 15] (ONNX's reference).
 * - -> bool is `x != 0` (NaN is true); bool -> number is 0 / 1.
 * - -> float16 / bfloat16 / float8 / float4 rounds to nearest even (float8 per `saturate`, util/minifloat).
 * - -> string writes the shortest decimal that reads back to the same value, formatted as numpy's str()
 *   does (positional between 1e-4 and 1e16, else scientific; "nan", "inf"), which is what ONNX's backend
 *   tests expect (onnxruntime prints 8 significant digits instead: "0.60484552" for "0.6048455"); string
 *   -> number reads plain and scientific notation and the case-insensitive literals "NaN", "INF", "+INF",
 *   "-INF".
 *
 * Host-resident inputs are converted on the host (exact, every type). Device-resident inputs stay on
 * tfjs when the target is held there (float, double, float16, bfloat16, bool, the 8..32-bit integers, and
 * int64 from integers): float16 and bfloat16 are rounded on tfjs by Veltkamp splitting so the values match
 * their ONNX type. Everything else (strings, float8/float4/int4, float -> int64) reads back to the host.
 */
import { DataType } from '../../core/dtype.js';
import { float32ToBfloat16Bits, float32ToFloat16Bits } from '../../core/float16.js';
import { arrayTypeOf, type NumericArray, type TensorData } from '../../ir/tensor.js';
import { tf } from '../backend.js';
import { RTensor, tfDtypeOf } from '../value.js';
import { fitDevice, floatToInt32, floatToInt64, hostElements, isWide, tfCompute } from './elementwise.js';
import { decodeMiniFloat, encodeMiniFloat, isMiniFloat } from './minifloat.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The shortest decimal digits and exponent that read back to `v` (float32 when `single`), as d.ddd x 10^exp. */
function shortestDigits(v: number, single: boolean): { digits: string; exp: number } {
  const maxP = single ? 9 : 17;
  for (let p = 1; p <= maxP; p++) {
    const s = v.toExponential(p - 1);
    const back = Number(s);
    if (single ? Math.fround(back) === v : back === v) {
      const [mant, e] = s.split('e') as [string, string];
      return { digits: mant.replace('.', '').replace('-', ''), exp: Number(e) };
    }
  }
  const [mant, e] = v.toExponential(maxP - 1).split('e') as [string, string];
  return { digits: mant.replace('.', '').replace('-', ''), exp: Number(e) };
}

/** numpy's str() of a float32 (`single`) or float64 value. */
export function formatFloat(v: number, single: boolean): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  if (v === 0) return `${sign}0.0`;
  const a = Math.abs(v);
  let { digits, exp } = shortestDigits(a, single);
  digits = digits.replace(/0+$/, '') || '0';
  if (a >= 1e-4 && a < 1e16) {
    if (exp >= 0) {
      const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
      const frac = digits.slice(exp + 1);
      return `${sign}${int}.${frac || '0'}`;
    }
    return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp).toString().padStart(2, '0');
  return `${sign}${mant}e${exp < 0 ? '-' : '+'}${e}`;
}

/** Reads a number from a string (plain or scientific; NaN / INF / +INF / -INF in any case). */
export function parseNumber(s: string): number {
  const t = s.trim();
  const u = t.toUpperCase();
  if (u === 'NAN') return NaN;
  if (u === 'INF' || u === '+INF' || u === 'INFINITY' || u === '+INFINITY') return Infinity;
  if (u === '-INF' || u === '-INFINITY') return -Infinity;
  const n = Number(t);
  return Number.isNaN(n) ? parseFloat(t) : n;
}

/** Source elements: numbers, BigInts (64-bit integers) or strings. */
type Source = { kind: 'num'; v: ArrayLike<number> } | { kind: 'big'; v: ArrayLike<bigint> } | { kind: 'str'; v: string[] };

function readSource(x: RTensor): Source {
  const dt = x.dataType;
  if (dt === DataType.STRING) return { kind: 'str', v: (x.host() as Uint8Array[]).map((b) => decoder.decode(b)) };
  if (isWide(dt)) return { kind: 'big', v: x.host() as BigInt64Array | BigUint64Array };
  if (isMiniFloat(dt)) return { kind: 'num', v: Array.from(x.host() as Uint8Array, (c) => decodeMiniFloat(c, dt)) };
  return { kind: 'num', v: hostElements(x, false) as ArrayLike<number> };
}

/** Width and signedness of the 8..32-bit integer types. */
const intWidth: Partial<Record<number, [bits: number, signed: boolean]>> = {
  [DataType.INT8]: [8, true],
  [DataType.UINT8]: [8, false],
  [DataType.INT16]: [16, true],
  [DataType.UINT16]: [16, false],
  [DataType.INT32]: [32, true],
  [DataType.UINT32]: [32, false],
};

/** A string element as a number, or as a BigInt when it is an integer literal (exact for int64). */
function strValue(s: string, big: boolean): number | bigint {
  const t = s.trim();
  if (big && /^[+-]?\d+$/.test(t)) return BigInt(t);
  return parseNumber(t);
}

/** Converts every element of a host source to `to` (see the rules at the top of this file). */
function convert(src: Source, srcType: number, to: number, saturate: boolean): TensorData {
  const n = src.v.length;
  if (to === DataType.STRING) {
    const single = srcType !== DataType.DOUBLE;
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const v = src.v[i]!;
      const s = src.kind === 'str' ? (v as string) : src.kind === 'big' ? String(v) : srcType === DataType.BOOL ? String(v) : isIntType(srcType) ? String(v) : formatFloat(v as number, single);
      out.push(encoder.encode(s));
    }
    return out;
  }
  // Each element as a number, or a BigInt for exact integer targets of 64 bits.
  const wideTo = isWide(to);
  const get = (i: number): number | bigint => {
    const v = src.v[i]!;
    if (src.kind === 'str') return strValue(v as string, wideTo);
    return v as number | bigint;
  };
  const Ctor = arrayTypeOf(to) as { new (n: number): NumericArray };
  const out = new Ctor(n);
  const num = (v: number | bigint) => (typeof v === 'bigint' ? Number(v) : v);
  if (wideTo) {
    const d = out as BigInt64Array | BigUint64Array;
    for (let i = 0; i < n; i++) {
      const v = get(i);
      if (typeof v === 'bigint') d[i] = v;
      else if (to === DataType.INT64) d[i] = floatToInt64(v);
      else d[i] = Number.isNaN(v) || v === -Infinity ? 2n ** 63n : v === Infinity ? 0n : BigInt.asUintN(64, BigInt(Math.trunc(v)));
    }
    return out;
  }
  const d = out as Exclude<NumericArray, BigInt64Array | BigUint64Array>;
  const w = intWidth[to];
  if (w) {
    const [bits, signed] = w;
    for (let i = 0; i < n; i++) {
      const v = get(i);
      if (typeof v === 'bigint') d[i] = Number(signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v));
      // Through int32 as x86 does (the typed-array store keeps the low bits); uint32 through int64.
      else d[i] = to === DataType.UINT32 ? Number(BigInt.asUintN(32, floatToInt64(v))) : floatToInt32(v);
    }
    return out;
  }
  switch (to) {
    case DataType.BOOL:
      for (let i = 0; i < n; i++) {
        const v = get(i);
        d[i] = typeof v === 'bigint' ? (v !== 0n ? 1 : 0) : v !== 0 ? 1 : 0;
      }
      return out;
    case DataType.FLOAT:
    case DataType.DOUBLE:
      for (let i = 0; i < n; i++) d[i] = num(get(i));
      return out;
    case DataType.FLOAT16:
      for (let i = 0; i < n; i++) d[i] = float32ToFloat16Bits(num(get(i)));
      return out;
    case DataType.BFLOAT16:
      for (let i = 0; i < n; i++) d[i] = float32ToBfloat16Bits(num(get(i)));
      return out;
    case DataType.INT4:
    case DataType.UINT4: {
      const [lo, hi] = to === DataType.INT4 ? [-8, 7] : [0, 15];
      for (let i = 0; i < n; i++) {
        const v = num(get(i));
        const c = Number.isNaN(v) ? 0 : Math.min(hi, Math.max(lo, v));
        // Round half to even after clipping, as onnx's reference float32_to_4bit_unpacked (np.rint) does.
        const f = Math.floor(c);
        d[i] = c - f > 0.5 || (c - f === 0.5 && f % 2 !== 0) ? f + 1 : f;
      }
      return out;
    }
    default:
      if (isMiniFloat(to)) {
        for (let i = 0; i < n; i++) d[i] = encodeMiniFloat(num(get(i)), to, saturate);
        return out;
      }
      throw new Error(`no conversion to data type ${to}`);
  }
}

function isIntType(dt: number): boolean {
  return intWidth[dt] !== undefined || isWide(dt) || dt === DataType.INT4 || dt === DataType.UINT4;
}

/** Converts a tensor on the host. */
export function castOnHost(x: RTensor, to: number, saturate: boolean): RTensor {
  return RTensor.fromHost(to, x.dims, convert(readSource(x), x.dataType, to, saturate));
}

/** Targets tfjs can hold with the right values. */
function deviceTarget(to: number): boolean {
  return to === DataType.FLOAT || to === DataType.DOUBLE || to === DataType.FLOAT16 || to === DataType.BFLOAT16 || to === DataType.BOOL || intWidth[to] !== undefined || isWide(to);
}

/** Sources tfjs holds with the right values. */
function deviceSource(dt: number): boolean {
  return deviceTarget(dt) || dt === DataType.INT4 || dt === DataType.UINT4;
}

/**
 * Rounds float32 values to `p` significant bits on tfjs (Veltkamp splitting: with c = x * (2^(24-p) + 1),
 * c - (c - x) is x rounded to nearest at p bits, each step in float32 arithmetic; Dekker 1971).
 */
function roundToBits(x: tf.Tensor, p: number): tf.Tensor {
  const c = tf.mul(x, tf.scalar(2 ** (24 - p) + 1));
  return tf.sub(c, tf.sub(c, x));
}

/** float32 -> nearest float16 value (still float32), with float16's subnormals and overflow to inf. */
export function roundToFloat16(x: tf.Tensor): tf.Tensor {
  const finite = tf.isFinite(x);
  const safe = tf.where(finite, x, tf.zerosLike(x));
  const a = tf.abs(safe);
  // Below 2^-14 float16 is subnormal: a fixed quantum of 2^-24 (tf.round rounds half to even).
  const sub = tf.mul(tf.round(tf.mul(safe, tf.scalar(2 ** 24))), tf.scalar(2 ** -24));
  // At or beyond 65520 (halfway between 65504 and 2^16) float16 rounds to inf.
  const big = tf.greaterEqual(a, tf.scalar(65520));
  const normal = roundToBits(tf.where(big, tf.zerosLike(safe), safe), 11);
  let r = tf.where(tf.less(a, tf.scalar(2 ** -14)), sub, normal);
  r = tf.where(big, tf.mul(tf.sign(safe), tf.scalar(Infinity)), r);
  return tf.where(finite, r, x);
}

/** float32 -> nearest bfloat16 value (still float32). */
export function roundToBfloat16(x: tf.Tensor): tf.Tensor {
  const finite = tf.isFinite(x);
  const safe = tf.where(finite, x, tf.zerosLike(x));
  // Veltkamp's product overflows float32 above ~2^111: split at 2^64 and scale by exact powers of two.
  const big = tf.greaterEqual(tf.abs(safe), tf.scalar(2 ** 64));
  const scaled = tf.where(big, tf.mul(safe, tf.scalar(2 ** -64)), safe);
  const rounded = roundToBits(scaled, 8);
  const r = tf.where(big, tf.mul(rounded, tf.scalar(2 ** 64)), rounded);
  return tf.where(finite, r, x);
}

/**
 * Converts a device-resident tensor on tfjs (the target and source must be tfjs-held types). In training
 * the float16 / bfloat16 rounding is skipped: a straight-through estimator, since its selects would have
 * no gradient.
 */
function castOnDevice(x: RTensor, to: number, training: boolean): RTensor {
  const t = x.tf;
  return tfCompute(to, [t], () => {
    if (to === DataType.BOOL) return t.dtype === 'bool' ? t : tf.notEqual(t, tf.scalar(0, t.dtype));
    if (to === DataType.FLOAT16 && !training) return roundToFloat16(tf.cast(t, 'float32'));
    if (to === DataType.BFLOAT16 && !training) return roundToBfloat16(tf.cast(t, 'float32'));
    // float -> int32 truncates toward zero; fitDevice wraps the 8/16-bit types.
    return fitDevice(t, to);
  });
}

/**
 * Casts `x` to `to`: on the host when it lives there or a type needs it, else on tfjs. float -> int64 /
 * uint64 also reads back to the host: tfjs's int32 cannot hold the results, and these casts usually end
 * shape computations (Floor(Mul(Cast(Shape)))), whose consumers read the values on the host anyway.
 */
export function castTo(x: RTensor, to: number, saturate: boolean, training = false): RTensor {
  const exactWide = isWide(to) && !isWide(x.dataType) && tfDtypeOf(x.dataType) === 'float32';
  if (x.onDevice && deviceSource(x.dataType) && deviceTarget(to) && !exactWide) return castOnDevice(x, to, training);
  return castOnHost(x, to, saturate);
}
