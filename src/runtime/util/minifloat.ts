/**
 * The 8-bit and 4-bit float formats of ONNX (onnx/docs/docsgen/source/technical/float8.md, opset 19 and
 * 23): encoding from and decoding to JS numbers, with round-to-nearest-even and Cast's `saturate` rule.
 *
 * - E4M3FN (17): bias 7, max 448, no infinities, NaN = S.1111.111.
 * - E4M3FNUZ (18): bias 8, max 240, no infinities, no negative zero, NaN = 0x80.
 * - E5M2 (19): bias 15, max 57344, IEEE-like infinities and NaNs.
 * - E5M2FNUZ (20): bias 16, max 57344, no infinities, no negative zero, NaN = 0x80.
 * - E2M1 (23, FLOAT4E2M1): bias 1, values 0, 0.5, 1, 1.5, 2, 3, 4, 6; no infinities or NaN: both map to
 *   6 (code 0x7), as ONNX's reference does, and every out-of-range value saturates.
 *
 * With saturate=1 (the default) a value beyond the range (inf included) becomes the largest finite value
 * of its sign; with saturate=0 it becomes inf for E5M2 and NaN for the others.
 */
import { DataType } from '../../core/dtype.js';

interface MiniFloat {
  bits: number;
  mant: number;
  bias: number;
  max: number;
  /** The code of +inf, when the format has one. */
  inf?: number;
  /** The code of NaN, when the format has one. */
  nan?: number;
  /** "Unsigned zero": no negative zero (its code is NaN). */
  uz: boolean;
}

const formats: Partial<Record<number, MiniFloat>> = {
  [DataType.FLOAT8E4M3FN]: { bits: 8, mant: 3, bias: 7, max: 448, nan: 0x7f, uz: false },
  [DataType.FLOAT8E4M3FNUZ]: { bits: 8, mant: 3, bias: 8, max: 240, nan: 0x80, uz: true },
  [DataType.FLOAT8E5M2]: { bits: 8, mant: 2, bias: 15, max: 57344, inf: 0x7c, nan: 0x7f, uz: false },
  [DataType.FLOAT8E5M2FNUZ]: { bits: 8, mant: 2, bias: 16, max: 57344, nan: 0x80, uz: true },
  [DataType.FLOAT4E2M1]: { bits: 4, mant: 1, bias: 1, max: 6, uz: false },
};

/** True for the float8 / float4 types handled here. */
export function isMiniFloat(dataType: number): boolean {
  return formats[dataType] !== undefined;
}

function floorLog2(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The code of a non-negative representable value (already rounded). */
function encodeMagnitude(r: number, f: MiniFloat): number {
  const minExp = 1 - f.bias;
  if (r < 2 ** minExp) return r / 2 ** (minExp - f.mant); // subnormal: exponent field 0
  const e = floorLog2(r);
  const m = r / 2 ** (e - f.mant) - 2 ** f.mant;
  return ((e + f.bias) << f.mant) | m;
}

/** Encodes a number into the bit pattern of a float8 / float4 type. */
export function encodeMiniFloat(v: number, dataType: number, saturate = true): number {
  const f = formats[dataType]!;
  const signBit = 1 << (f.bits - 1);
  const maxCode = encodeMagnitude(f.max, f);
  if (Number.isNaN(v)) return f.nan ?? maxCode;
  const sign = v < 0 || Object.is(v, -0) ? signBit : 0;
  const a = Math.abs(v);
  // Beyond the range (inf included): saturate, or inf / NaN. float4 has neither, so it always saturates.
  const overflow = () => (saturate || (f.inf === undefined && f.nan === undefined) ? sign | maxCode : f.inf !== undefined ? sign | f.inf : f.nan!);
  if (a === Infinity) return overflow();
  if (a === 0) return f.uz ? 0 : sign;
  const e = Math.max(floorLog2(a), 1 - f.bias);
  const q = 2 ** (e - f.mant);
  const r = roundHalfEven(a / q) * q;
  if (r > f.max) return overflow();
  if (r === 0) return f.uz ? 0 : sign;
  return sign | encodeMagnitude(r, f);
}

/** Decodes the bit pattern of a float8 / float4 type. */
export function decodeMiniFloat(code: number, dataType: number): number {
  const f = formats[dataType]!;
  const signBit = 1 << (f.bits - 1);
  if (f.uz && code === signBit) return NaN;
  const body = code & (signBit - 1);
  if (!f.uz && f.nan !== undefined && f.inf === undefined && body === f.nan) return NaN;
  if (f.inf !== undefined && body >= f.inf) return body === f.inf ? (code & signBit ? -Infinity : Infinity) : NaN;
  const ef = body >> f.mant;
  const m = body & ((1 << f.mant) - 1);
  const val = ef === 0 ? m * 2 ** (1 - f.bias - f.mant) : (1 + m / 2 ** f.mant) * 2 ** (ef - f.bias);
  return code & signBit ? -val : val;
}
