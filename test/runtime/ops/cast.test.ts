import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { float32ToBfloat16Bits, float32ToFloat16Bits } from '../../../src/core/float16.js';
import { decodeMiniFloat, encodeMiniFloat } from '../../../src/runtime/util/minifloat.js';
import { formatFloat, parseNumber } from '../../../src/runtime/util/cast.js';
import { assertClose, assertExact, backends, device, host, run1, useBackend } from './opHarness.js';

const { FLOAT, DOUBLE, FLOAT16, BFLOAT16, INT8, UINT8, INT16, INT32, INT64, UINT64, UINT32, BOOL, STRING, INT4, UINT4 } = DataType;
const { FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ, FLOAT4E2M1 } = DataType;

/** Values that exercise float16 rounding: normals, ties, subnormals, overflow, specials. */
function halfProbe(): number[] {
  const v = [0, -0, 1, -1, 65504, 65519, 65520, -65520, 1e5, 3e38, 6e-5, 6.1e-5, 2 ** -14, 2 ** -24, 1.5 * 2 ** -24, 2.5 * 2 ** -24, 3e-8, 2.9e-8, 1e-8, NaN, Infinity, -Infinity];
  // Ties at 11 significant bits: 1 + 2^-11 (to even: 1), 1 + 3 * 2^-11 (to even: up).
  v.push(1 + 2 ** -11, 1 + 3 * 2 ** -11, 2048 + 1, 2048 + 3);
  let s = 12345;
  for (let i = 0; i < 400; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const m = s / 2 ** 31;
    v.push(Math.fround((m - 0.5) * 2 ** ((i % 40) - 25)));
  }
  return v.map((x) => Math.fround(x));
}

for (const b of backends) {
  test(`float -> float16 / bfloat16 on tfjs rounds exactly as the host conversion does (${b})`, async () => {
    await useBackend(b);
    const vals = halfProbe();
    const onDev = run1('Cast', 13, [device(FLOAT, [vals.length], vals)], { to: FLOAT16 });
    assert.equal(onDev.onDevice, true);
    const expected = vals.map(float32ToFloat16Bits);
    assert.deepEqual(Array.from(onDev.host() as Uint16Array), expected);
    const onHost = run1('Cast', 13, [host(FLOAT, [vals.length], vals)], { to: FLOAT16 });
    assert.deepEqual(Array.from(onHost.host() as Uint16Array), expected);
    const bigVals = vals.concat([3.3e38, -3.3e38, 1e-38, 2 ** 100 * 1.00390625]);
    const bf = run1('Cast', 13, [device(FLOAT, [bigVals.length], bigVals)], { to: BFLOAT16 });
    // TensorFlow's kernels flush float32 subnormals (1e-38) to zero (docs/backends.md); the others keep them.
    const flush = (x: number) => (b.startsWith('tfjs-node') && x !== 0 && Math.abs(x) < 2 ** -126 ? 0 * Math.sign(x) : x);
    assert.deepEqual(Array.from(bf.host() as Uint16Array), bigVals.map((x) => float32ToBfloat16Bits(flush(x))));
  });

  test(`float -> integers truncate toward zero, out of range as onnxruntime on x86 (${b})`, async () => {
    await useBackend(b);
    const vals = [300.7, -300.7, 1e10, -1e10, NaN, Infinity, -Infinity, -1.7, 128.5, 255.9, 256, -0.5];
    // Measured with onnxruntime-node 1.30 on x86-64.
    const i8 = [44, -44, 0, 0, 0, 0, 0, -1, -128, -1, 0, 0];
    const u8 = [44, 212, 0, 0, 0, 0, 0, 255, 128, 255, 0, 0];
    const i32 = [300, -300, -2147483648, -2147483648, -2147483648, -2147483648, -2147483648, -1, 128, 255, 256, 0];
    const i64 = [300n, -300n, 10000000000n, -10000000000n, -(2n ** 63n), -(2n ** 63n), -(2n ** 63n), -1n, 128n, 255n, 256n, 0n];
    for (const place of [host, device]) {
      const x = place(FLOAT, [vals.length], vals);
      assertExact(run1('Cast', 13, [x], { to: INT8 }), INT8, [12], i8);
      assertExact(run1('Cast', 13, [x], { to: UINT8 }), UINT8, [12], u8);
      assertExact(run1('Cast', 13, [x], { to: INT32 }), INT32, [12], i32);
      assertExact(run1('Cast', 13, [x], { to: BOOL }), BOOL, [12], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    }
    for (const place of [host, device]) {
      const y = run1('Cast', 13, [place(FLOAT, [12], vals)], { to: INT64 });
      assert.equal(y.onDevice, false);
      assertExact(y, INT64, [12], i64);
    }
    assertExact(run1('Cast', 13, [host(FLOAT, [3], [70000.5, -40000, 3e9])], { to: INT16 }), INT16, [3], [4464, 25536, 0]);
    assertExact(run1('Cast', 13, [host(FLOAT, [2], [0, -0])], { to: BOOL }), BOOL, [2], [0, 0]);
    // Integers narrow by wrapping; int64 -> float / double.
    const wide = host(INT64, [3], [2n ** 32n + 5n, -(2n ** 32n) - 5n, 2n ** 31n]);
    assertExact(run1('Cast', 13, [wide], { to: INT32 }), INT32, [3], [5, -5, -2147483648]);
    assertExact(run1('Cast', 13, [wide], { to: UINT64 }), UINT64, [3], [2n ** 32n + 5n, 2n ** 64n - 2n ** 32n - 5n, 2n ** 31n]);
    assertClose(run1('Cast', 13, [host(INT64, [1], [2n ** 40n + 1n])], { to: DOUBLE }), DOUBLE, [1], [2 ** 40 + 1], 0, 0);
    assertExact(run1('Cast', 13, [device(INT32, [4], [-1, 300, 65535, 50331656])], { to: UINT8 }), UINT8, [4], [255, 44, 255, 8]);
    assertExact(run1('Cast', 13, [device(INT32, [3], [-16777219, 200, 98303])], { to: INT8 }), INT8, [3], [-3, -56, -1]);
    assertExact(run1('Cast', 13, [device(INT32, [2], [-16777219, 98303])], { to: INT16 }), INT16, [2], [-3, 32767]);
    assertExact(run1('Cast', 13, [device(BOOL, [2], [1, 0])], { to: INT64 }), INT64, [2], [1n, 0n]);
    assertExact(run1('Cast', 13, [host(INT32, [2], [-1, 7])], { to: UINT32 }), UINT32, [2], [4294967295, 7]);
  });

  test(`CastLike takes the second input's type; Cast in opset 1 names the type (${b})`, async () => {
    await useBackend(b);
    const x = device(FLOAT, [2], [1.5, -2.5]);
    assertExact(run1('CastLike', 15, [x, host(INT64, [0], [])]), INT64, [2], [1n, -2n]);
    assertClose(run1('CastLike', 15, [x, host(FLOAT16, [1], [0])]), FLOAT16, [2], [1.5, -2.5], 0, 0);
    assertExact(run1('Cast', 1, [x], { to: 'INT32' }), INT32, [2], [1, -2]);
    const same = run1('Cast', 13, [x], { to: FLOAT });
    assert.notEqual(same, x);
    assertClose(same, FLOAT, [2], [1.5, -2.5], 0, 0);
    assert.throws(() => run1('Cast', 13, [x], { to: 99 }), /unsupported or missing 'to' type/);
  });

  test(`float8 / float4 / int4 casts round to nearest even and saturate as ONNX says (${b})`, async () => {
    await useBackend(b);
    const vals = [448, 464, 500, 1e6, -1e6, NaN, Infinity, -Infinity, 0.3, -0, 2 ** -9, 2 ** -10];
    const x = device(FLOAT, [vals.length], vals);
    // E4M3FN: max 448 (0x7E); NaN 0x7F; saturate clamps, else NaN (464 is a tie that rounds to even, 448).
    // 2^-9 is its smallest subnormal (code 1).
    const sat = run1('Cast', 19, [x], { to: FLOAT8E4M3FN });
    assertExact(sat, FLOAT8E4M3FN, [12], [0x7e, 0x7e, 0x7e, 0x7e, 0xfe, 0x7f, 0x7e, 0xfe, 0x2a, 0x80, 0x01, 0x00]);
    const noSat = run1('Cast', 19, [x], { to: FLOAT8E4M3FN, saturate: 0 });
    assertExact(noSat, FLOAT8E4M3FN, [12], [0x7e, 0x7e, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x2a, 0x80, 0x01, 0x00]);
    // E5M2 keeps infinities when not saturating.
    const e5 = run1('Cast', 19, [x], { to: FLOAT8E5M2, saturate: 0 });
    assert.equal((e5.host() as Uint8Array)[6], 0x7c);
    assert.equal((e5.host() as Uint8Array)[7], 0xfc);
    // Back to float: the decoded values.
    assertClose(run1('Cast', 19, [sat], { to: FLOAT }), FLOAT, [12], [448, 448, 448, 448, -448, NaN, 448, -448, 0.3125, -0, 2 ** -9, 0], 0, 0);
    // Every code of every format decodes and re-encodes to itself (NaN codes to the format's NaN).
    for (const dt of [FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ, FLOAT4E2M1]) {
      const n = dt === FLOAT4E2M1 ? 16 : 256;
      for (let c = 0; c < n; c++) {
        const v = decodeMiniFloat(c, dt);
        const back = encodeMiniFloat(v, dt, false);
        if (Number.isNaN(v)) assert.ok(Number.isNaN(decodeMiniFloat(back, dt)), `format ${dt} code ${c}`);
        else assert.equal(back, c === 0x80 && dt === FLOAT8E4M3FNUZ ? back : c, `format ${dt} code ${c} (${v})`);
      }
    }
    // float4 e2m1: 0.25 -> 0 and 2.5 -> 2 and 5 -> 4 (ties to even), beyond 6 and NaN -> 6 (ONNX's reference).
    const f4 = run1('Cast', 23, [host(FLOAT, [8], [0.25, 0.75, 2.5, 5, 5.1, -7, NaN, 1.25])], { to: FLOAT4E2M1 });
    assertExact(f4, FLOAT4E2M1, [8], [0x0, 0x2, 0x4, 0x6, 0x7, 0xf, 0x7, 0x2]);
    // int4 / uint4: round half to even after clipping (np.rint(np.clip(x))).
    const i4 = run1('Cast', 21, [host(FLOAT, [6], [7.6, 2.5, -9, 3.5, -0.5, NaN])], { to: INT4 });
    assertExact(i4, INT4, [6], [7, 2, -8, 4, 0, 0]);
    assertExact(run1('Cast', 21, [host(INT32, [3], [-3, 20, 9])], { to: UINT4 }), UINT4, [3], [0, 15, 9]);
    assertExact(run1('Cast', 21, [i4], { to: INT32 }), INT32, [6], [7, 2, -8, 4, 0, 0]);
  });

  test(`strings: numpy-style formatting and parsing of the ONNX literals (${b})`, async () => {
    await useBackend(b);
    const vals = [0.039187793, 1e-5, 1.5e20, 100, -0, NaN, Infinity, 1 / 3, 123456789, 0.6048455];
    const s = run1('Cast', 13, [host(FLOAT, [vals.length], vals)], { to: STRING });
    const dec = new TextDecoder();
    assert.deepEqual(
      (s.host() as Uint8Array[]).map((x) => dec.decode(x)),
      ['0.039187793', '1e-05', '1.5e+20', '100.0', '-0.0', 'nan', 'inf', '0.33333334', '123456790.0', '0.6048455'],
    );
    assert.equal(formatFloat(0.1, false), '0.1');
    assert.equal(formatFloat(12345678901234567890, false), '1.2345678901234567e+19');
    const enc = new TextEncoder();
    const strs = host(STRING, [7], ['0.5', ' 1e-5', 'NaN', 'inf', '+INF', '-Inf', '123456789012345678'].map((x) => enc.encode(x)));
    assertClose(run1('Cast', 13, [strs], { to: FLOAT }), FLOAT, [7], [0.5, 1e-5, NaN, Infinity, Infinity, -Infinity, 123456789012345678], 1e-7, 0);
    const ints = host(STRING, [2], ['123456789012345678', '-7.9'].map((x) => enc.encode(x)));
    assertExact(run1('Cast', 13, [ints], { to: INT64 }), INT64, [2], [123456789012345678n, -7n]);
    assert.ok(Number.isNaN(parseNumber('nan')));
    const fromInt = run1('Cast', 13, [host(INT64, [2], [-(2n ** 62n), 5n])], { to: STRING });
    assert.deepEqual((fromInt.host() as Uint8Array[]).map((x) => dec.decode(x)), ['-4611686018427387904', '5']);
  });
}
