/**
 * Every TensorProto data type through raw_data and through its typed field, the 4-bit packing, the
 * float16 / bfloat16 conversions at their edges, and the test_data_set tensors of the ONNX test data.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Long from 'long';
import { DataType } from '../../src/core/dtype.js';
import { CompressError, ModelError } from '../../src/core/errors.js';
import type { TensorData } from '../../src/ir/tensor.js';
import {
  bfloat16BitsToFloat32,
  bfloat16ToFloat32Array,
  float16BitsToFloat32,
  float16ToFloat32Array,
  float32ToBfloat16Array,
  float32ToBfloat16Bits,
  float32ToFloat16Array,
  float32ToFloat16Bits,
  pack4Bit,
  readTensorProto,
  unpack4Bit,
  writeTensorProto,
} from '../../src/onnx/index.js';
import { decodeRawData } from '../../src/onnx/dtypes.js';
import { decodeTensorProto, encodeTensorProto, Types, type TensorProto } from '../../src/onnx/schema.js';
import { diffMessages } from './helpers.js';

/** Little-endian bytes written element by element with a DataView: an encoder independent of ours. */
function le(width: number, values: (number | bigint)[], set: (dv: DataView, at: number, v: never) => void): Uint8Array {
  const out = new Uint8Array(width * values.length);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => set(dv, i * width, v as never));
  return out;
}
const f32 = (v: number[]): Uint8Array => le(4, v, (dv, at, x: number) => dv.setFloat32(at, x, true));
const f64 = (v: number[]): Uint8Array => le(8, v, (dv, at, x: number) => dv.setFloat64(at, x, true));
const u16 = (v: number[]): Uint8Array => le(2, v, (dv, at, x: number) => dv.setUint16(at, x, true));
const i16 = (v: number[]): Uint8Array => le(2, v, (dv, at, x: number) => dv.setInt16(at, x, true));
const i32 = (v: number[]): Uint8Array => le(4, v, (dv, at, x: number) => dv.setInt32(at, x, true));
const u32 = (v: number[]): Uint8Array => le(4, v, (dv, at, x: number) => dv.setUint32(at, x, true));
const i64 = (v: bigint[]): Uint8Array => le(8, v, (dv, at, x: bigint) => dv.setBigInt64(at, x, true));
const u64 = (v: bigint[]): Uint8Array => le(8, v, (dv, at, x: bigint) => dv.setBigUint64(at, x, true));

interface Case {
  type: number;
  name: string;
  dims: number[];
  data: TensorData;
  raw?: Uint8Array;
  typed: Partial<TensorProto>;
}

const int64Max = 2n ** 63n - 1n;
const cases: Case[] = [
  { type: DataType.FLOAT, name: 'FLOAT', dims: [4], data: Float32Array.from([1.5, -2, 0, Infinity]), raw: f32([1.5, -2, 0, Infinity]), typed: { floatData: [1.5, -2, 0, Infinity] } },
  { type: DataType.UINT8, name: 'UINT8', dims: [3], data: Uint8Array.from([0, 255, 7]), raw: Uint8Array.from([0, 255, 7]), typed: { int32Data: [0, 255, 7] } },
  { type: DataType.INT8, name: 'INT8', dims: [3], data: Int8Array.from([-128, 127, -1]), raw: Uint8Array.from([0x80, 0x7f, 0xff]), typed: { int32Data: [-128, 127, -1] } },
  { type: DataType.UINT16, name: 'UINT16', dims: [3], data: Uint16Array.from([0, 65535, 258]), raw: u16([0, 65535, 258]), typed: { int32Data: [0, 65535, 258] } },
  { type: DataType.INT16, name: 'INT16', dims: [3], data: Int16Array.from([-32768, 32767, -2]), raw: i16([-32768, 32767, -2]), typed: { int32Data: [-32768, 32767, -2] } },
  { type: DataType.INT32, name: 'INT32', dims: [3], data: Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 5]), raw: i32([-(2 ** 31), 2 ** 31 - 1, 5]), typed: { int32Data: [-(2 ** 31), 2 ** 31 - 1, 5] } },
  {
    type: DataType.INT64,
    name: 'INT64',
    dims: [3],
    data: BigInt64Array.from([-int64Max - 1n, int64Max, 42n]),
    raw: i64([-int64Max - 1n, int64Max, 42n]),
    typed: { int64Data: [Long.fromString('-9223372036854775808'), Long.fromString('9223372036854775807'), 42] },
  },
  { type: DataType.BOOL, name: 'BOOL', dims: [3], data: Uint8Array.from([1, 0, 1]), raw: Uint8Array.from([1, 0, 1]), typed: { int32Data: [1, 0, 1] } },
  { type: DataType.FLOAT16, name: 'FLOAT16', dims: [3], data: Uint16Array.from([0x3c00, 0xfc00, 0x0001]), raw: u16([0x3c00, 0xfc00, 0x0001]), typed: { int32Data: [0x3c00, 0xfc00, 0x0001] } },
  { type: DataType.DOUBLE, name: 'DOUBLE', dims: [2], data: Float64Array.from([1e300, -0.5]), raw: f64([1e300, -0.5]), typed: { doubleData: [1e300, -0.5] } },
  { type: DataType.UINT32, name: 'UINT32', dims: [2], data: Uint32Array.from([0, 2 ** 32 - 1]), raw: u32([0, 2 ** 32 - 1]), typed: { uint64Data: [0, 4294967295] } },
  {
    type: DataType.UINT64,
    name: 'UINT64',
    dims: [2],
    data: BigUint64Array.from([0n, 2n ** 64n - 1n]),
    raw: u64([0n, 2n ** 64n - 1n]),
    typed: { uint64Data: [0, Long.fromString('18446744073709551615', true)] },
  },
  { type: DataType.COMPLEX64, name: 'COMPLEX64', dims: [2], data: Float32Array.from([1, 2, 3, -4]), raw: f32([1, 2, 3, -4]), typed: { floatData: [1, 2, 3, -4] } },
  { type: DataType.COMPLEX128, name: 'COMPLEX128', dims: [1], data: Float64Array.from([0.25, -8]), raw: f64([0.25, -8]), typed: { doubleData: [0.25, -8] } },
  { type: DataType.BFLOAT16, name: 'BFLOAT16', dims: [2], data: Uint16Array.from([0x3f80, 0x7fc0]), raw: u16([0x3f80, 0x7fc0]), typed: { int32Data: [0x3f80, 0x7fc0] } },
  ...[DataType.FLOAT8E4M3FN, DataType.FLOAT8E4M3FNUZ, DataType.FLOAT8E5M2, DataType.FLOAT8E5M2FNUZ, 24].map(
    (type): Case => ({ type, name: `FLOAT8(${type})`, dims: [5], data: Uint8Array.from([0x00, 0x7f, 0x80, 0xff, 0x01]), raw: Uint8Array.from([0x00, 0x7f, 0x80, 0xff, 0x01]), typed: { int32Data: [0x00, 0x7f, 0x80, 0xff, 0x01] } }),
  ),
  // 4-bit: an odd count, low nibble first, the last high nibble padded with zero; int32_data holds the packed bytes.
  { type: DataType.UINT4, name: 'UINT4', dims: [3], data: Uint8Array.from([0, 15, 7]), raw: Uint8Array.from([0xf0, 0x07]), typed: { int32Data: [0xf0, 0x07] } },
  { type: DataType.INT4, name: 'INT4', dims: [3], data: Int8Array.from([-8, 7, -1]), raw: Uint8Array.from([0x78, 0x0f]), typed: { int32Data: [0x78, 0x0f] } },
  { type: DataType.FLOAT4E2M1, name: 'FLOAT4E2M1', dims: [1, 3], data: Uint8Array.from([0x1, 0xf, 0x8]), raw: Uint8Array.from([0xf1, 0x08]), typed: { int32Data: [0xf1, 0x08] } },
  { type: DataType.INT4, name: 'INT4 [2,2]', dims: [2, 2], data: Int8Array.from([1, -2, 3, -4]), raw: Uint8Array.from([0xe1, 0xc3]), typed: { int32Data: [0xe1, 0xc3] } },
  {
    type: DataType.STRING,
    name: 'STRING',
    dims: [3],
    data: [new TextEncoder().encode('héllo'), new Uint8Array(0), Uint8Array.from([0xff, 0x00, 0xfe])],
    typed: { stringData: [new TextEncoder().encode('héllo'), new Uint8Array(0), Uint8Array.from([0xff, 0x00, 0xfe])] },
  },
  { type: DataType.FLOAT, name: 'FLOAT zero elements', dims: [0, 3], data: new Float32Array(0), raw: new Uint8Array(0), typed: {} },
];

function assertSameData(actual: TensorData, expected: TensorData, what: string): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), what);
    assert.deepEqual(actual.map((b) => Array.from(b)), expected.map((b) => Array.from(b)), what);
    return;
  }
  assert.equal(actual.constructor, expected.constructor, `${what}: array type`);
  assert.deepEqual(Array.from(actual as ArrayLike<number | bigint>), Array.from(expected as ArrayLike<number | bigint>), what);
}

for (const c of cases) {
  test(`${c.name}: raw_data and typed field decode to the canonical array and encode back unchanged`, () => {
    const forms: [string, TensorProto][] = [['typed', { dims: c.dims, dataType: c.type, name: 't', ...c.typed }]];
    if (c.raw) forms.push(['raw_data', { dims: c.dims, dataType: c.type, name: 't', rawData: c.raw }]);
    for (const [form, proto] of forms) {
      const bytes = encodeTensorProto(proto);
      const t = readTensorProto(bytes);
      assert.equal(t.dataType, c.type);
      assert.deepEqual(t.dims, c.dims);
      assertSameData(t.data, c.data, `${c.name} via ${form}`);
      const again = writeTensorProto(t);
      const diff = diffMessages(Types.TensorProto, decodeTensorProto(bytes) as never, decodeTensorProto(again) as never);
      assert.deepEqual(diff, [], `${c.name} via ${form} keeps its storage form`);
    }
  });
}

test('raw_data given as an unaligned view is copied before it is read', () => {
  const backing = new Uint8Array(1 + 8);
  backing.set(f32([3.25, -1]), 1);
  const view = backing.subarray(1);
  const data = decodeRawData(DataType.FLOAT, view, 2, 'x') as Float32Array;
  assert.deepEqual(Array.from(data), [3.25, -1]);
  assert.equal(data.byteOffset % 4, 0);
  // And through a whole message, where raw_data lands at an odd offset of the file's buffer.
  for (const name of ['a', 'ab', 'abc', 'abcd']) {
    const t = readTensorProto(encodeTensorProto({ dims: [2], dataType: DataType.DOUBLE, name, rawData: f64([1.5, -7]) }));
    assert.deepEqual(Array.from(t.data as Float64Array), [1.5, -7]);
  }
});

test('4-bit packing: low nibble first, odd counts padded, signed values sign-extended', () => {
  assert.deepEqual(Array.from(pack4Bit([1, 2, 3])), [0x21, 0x03]);
  assert.deepEqual(Array.from(pack4Bit(Int8Array.from([-1, -8]))), [0x8f]);
  assert.deepEqual(Array.from(unpack4Bit(Uint8Array.from([0x8f, 0x07]), 3, true)), [-1, -8, 7]);
  assert.deepEqual(Array.from(unpack4Bit(Uint8Array.from([0x8f, 0x07]), 3, false)), [15, 8, 7]);
  for (let n = 0; n < 9; n++) {
    const values = Int8Array.from({ length: n }, (_, i) => ((i * 5) % 16) - 8);
    assert.deepEqual(Array.from(unpack4Bit(pack4Bit(values), n, true)), Array.from(values));
  }
  // A writer that stored one INT4 element per int32_data entry is read too, and written back packed.
  const t = readTensorProto(encodeTensorProto({ dims: [3], dataType: DataType.INT4, int32Data: [-8, 7, -1] }));
  assert.deepEqual(Array.from(t.data as Int8Array), [-8, 7, -1]);
});

test('float16: exact values, rounding to nearest even, subnormals, overflow, infinities, NaN', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [65519.99, 0x7bff],
    [65520, 0x7c00],
    [1e9, 0x7c00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
    [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal: to even (0)
    [2 ** -25 * 1.5, 0x0001],
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 units: to even (2)
    [-(2 ** -26), 0x8000],
    [1 + 2 ** -11, 0x3c00], // tie: to even
    [1 + 3 * 2 ** -11, 0x3c02], // tie: to even
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just over the tie: up
    [0.1, 0x2e66],
    [2047 * 2 ** -25, 0x0400], // rounds up out of the subnormals into the smallest normal
  ];
  for (const [value, bits] of cases) {
    assert.equal(float32ToFloat16Bits(Math.fround(value)), bits, `${value} -> 0x${bits.toString(16)}`);
  }
  const nan = float32ToFloat16Bits(NaN);
  assert.equal(nan & 0x7c00, 0x7c00);
  assert.notEqual(nan & 0x3ff, 0);
  assert.ok(Number.isNaN(float16BitsToFloat32(0x7e00)));
  assert.ok(Number.isNaN(float16BitsToFloat32(0xfc01)));
  assert.equal(float16BitsToFloat32(0x7c00), Infinity);
  assert.equal(float16BitsToFloat32(0xfc00), -Infinity);
  assert.ok(Object.is(float16BitsToFloat32(0x8000), -0));
  assert.equal(float16BitsToFloat32(0x0001), 2 ** -24);
  assert.equal(float16BitsToFloat32(0x03ff), 1023 * 2 ** -24);
  assert.equal(float16BitsToFloat32(0x7bff), 65504);
  // Every half survives half -> float -> half (NaNs stay NaNs of the same sign).
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const floats = float16ToFloat32Array(all);
  const back = float32ToFloat16Array(floats);
  for (let h = 0; h < 65536; h++) {
    assert.ok(Object.is(floats[h], float16BitsToFloat32(h)), `table and scalar agree on 0x${h.toString(16)}`);
    const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    if (isNaN) assert.ok((back[h]! & 0x7c00) === 0x7c00 && (back[h]! & 0x3ff) !== 0 && (back[h]! & 0x8000) === (h & 0x8000));
    else assert.equal(back[h], h, `0x${h.toString(16)}`);
  }
  // The array conversion rounds like the scalar one.
  const samples = Float32Array.from(cases.map(([v]) => v));
  assert.deepEqual(Array.from(float32ToFloat16Array(samples)), Array.from(samples, (v) => float32ToFloat16Bits(v)));
});

test('bfloat16: truncation with round to nearest even, NaN kept, overflow to infinity', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3f80],
    [-2, 0xc000],
    [1 + 2 ** -8, 0x3f80], // tie: to even
    [1 + 3 * 2 ** -8, 0x3f82], // tie: to even
    [1 + 2 ** -8 + 2 ** -20, 0x3f81],
    [3.3895313892515355e38, 0x7f7f], // largest finite bfloat16
    [3.4028234663852886e38, 0x7f80], // float32 max rounds to infinity
    [Infinity, 0x7f80],
    [-Infinity, 0xff80],
    [2 ** -130, 0x0008], // float32 subnormals keep their top 7 mantissa bits
    [2 ** -133, 0x0001], // the smallest bfloat16 subnormal
    [2 ** -134, 0x0000], // tie between 0 and 1 unit: to even
    [3 * 2 ** -134, 0x0002], // tie between 1 and 2 units: to even
  ];
  for (const [value, bits] of cases) assert.equal(float32ToBfloat16Bits(value), bits, `${value}`);
  assert.ok(Number.isNaN(bfloat16BitsToFloat32(float32ToBfloat16Bits(NaN))));
  // A NaN whose payload sits only in the low 16 bits must not truncate to infinity.
  const f = new Float32Array(1);
  new Uint32Array(f.buffer)[0] = 0x7f800001;
  const bits = float32ToBfloat16Array(f)[0]!;
  assert.ok(Number.isNaN(bfloat16BitsToFloat32(bits)));
  for (let b = 0; b < 65536; b++) {
    const v = bfloat16BitsToFloat32(b);
    if (!Number.isNaN(v)) assert.equal(float32ToBfloat16Bits(v), b);
  }
  assert.deepEqual(Array.from(bfloat16ToFloat32Array(Uint16Array.from([0x3f80, 0xc000]))), [1, -2]);
});

test('a tensor whose data does not match its dims is a ModelError', () => {
  const bad: TensorProto[] = [
    { dims: [3], dataType: DataType.FLOAT, rawData: new Uint8Array(8) },
    { dims: [3], dataType: DataType.FLOAT, floatData: [1, 2] },
    { dims: [3], dataType: DataType.INT4, rawData: new Uint8Array(3) },
    { dims: [1], dataType: DataType.STRING, rawData: new Uint8Array(1) },
    { dims: [1], dataType: 99, rawData: new Uint8Array(1) },
  ];
  for (const p of bad) {
    assert.throws(() => readTensorProto(encodeTensorProto(p), 'x.pb'), (e: unknown) => e instanceof ModelError && !e.message.includes('\n'));
  }
  assert.throws(() => readTensorProto(Uint8Array.from([0xff, 0xff, 0xff]), 'junk.pb'), (e: unknown) => e instanceof CompressError && e.exitCode === 3);
});

test('the test_data_set tensors of the ONNX test data read and write back unchanged', (t) => {
  let files: string[] = [];
  try {
    files = execFileSync('dpkg', ['-L', 'libonnx-testdata'], { encoding: 'utf8' }).split('\n').filter((l) => /test_data_set_\d+\/(input|output)_\d+\.pb$/.test(l));
  } catch {
    files = [];
  }
  assert.ok(files.length > 1000, `expected the libonnx-testdata tensors, found ${files.length}`);
  let checked = 0;
  let other = 0;
  for (const f of files) {
    const bytes = readFileSync(f);
    const proto = decodeTensorProto(bytes);
    // Sequence and optional values (SequenceProto, OptionalProto) share these folders; read as
    // TensorProtos they are nonsense, and readTensorProto must say so with a ModelError.
    const nonTensor = /(sequence|_seq|_opt|optional)/.test(f);
    let tensor;
    try {
      tensor = readTensorProto(bytes, f);
    } catch (e) {
      if (nonTensor && e instanceof ModelError) {
        other++;
        continue;
      }
      throw e;
    }
    if (!proto.dataType) {
      other++;
      continue;
    }
    const again = writeTensorProto(tensor);
    assert.deepEqual(diffMessages(Types.TensorProto, proto as never, decodeTensorProto(again) as never), [], f);
    checked++;
  }
  t.diagnostic(`${checked} tensors checked, ${other} non-tensor values left out`);
  assert.ok(checked > 3000);
});

test('the float16 / bfloat16 fixtures (fixtures/dtypes) round-trip field for field, external data and Constant weights included', async () => {
  const { existsSync, readdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { loadModel, saveModel, serializeModel } = await import('../../src/onnx/index.js');
  const { diffModelBytes, repoRoot, tempDir } = await import('./helpers.js');
  const dir = join(repoRoot, 'fixtures', 'dtypes');
  const names = readdirSync(dir).sort();
  assert.ok(names.length >= 8, names.join(', '));
  const tmp = tempDir();
  try {
    for (const name of names) {
      const path = join(dir, name, 'model.onnx');
      const model = await loadModel(path);
      if (!existsSync(`${path}.data`)) {
        assert.deepEqual(diffModelBytes(readFileSync(path), serializeModel(model)), [], name);
        continue;
      }
      // External data: saved with external data again and read back, the tensors are the same.
      const again = join(tmp.dir, `${name}.onnx`);
      await saveModel(model, again, { externalData: true });
      assert.ok(existsSync(`${again}.data`), `${name}: written with external data`);
      assert.deepEqual(diffModelBytes(serializeModel(await loadModel(path)), serializeModel(await loadModel(again))), [], name);
    }
  } finally {
    tmp.cleanup();
  }
});
