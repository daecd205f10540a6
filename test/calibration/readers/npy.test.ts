/**
 * .npy files written byte by byte here (no numpy at test time): every dtype in both byte orders, the
 * three format versions, views without copies, and each way a file can be wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataType } from '../../../src/core/dtype.js';
import { UsageError } from '../../../src/core/errors.js';
import { parseNpy, readNpy } from '../../../src/calibration/readers/npy.js';
import { npyBytes } from './npyfile.js';
import { tempDir } from '../../helpers/tmp.js';

type Writer = (dv: DataView, offset: number, v: number | bigint, little: boolean) => void;
interface Case {
  kind: string;
  size: number;
  values: (number | bigint)[];
  dataType: number;
  write: Writer;
}

const cases: Case[] = [
  { kind: 'f4', size: 4, values: [1.5, -2.25, 2 ** 40], dataType: DataType.FLOAT, write: (d, o, v, l) => d.setFloat32(o, Number(v), l) },
  { kind: 'f8', size: 8, values: [1.5, -2.25, 1e300], dataType: DataType.DOUBLE, write: (d, o, v, l) => d.setFloat64(o, Number(v), l) },
  { kind: 'f2', size: 2, values: [0x3e00, 0xc000, 0x7c00], dataType: DataType.FLOAT16, write: (d, o, v, l) => d.setUint16(o, Number(v), l) },
  { kind: 'i1', size: 1, values: [-128, 0, 127], dataType: DataType.INT8, write: (d, o, v) => d.setInt8(o, Number(v)) },
  { kind: 'u1', size: 1, values: [0, 128, 255], dataType: DataType.UINT8, write: (d, o, v) => d.setUint8(o, Number(v)) },
  { kind: 'i2', size: 2, values: [-32768, 1, 32767], dataType: DataType.INT16, write: (d, o, v, l) => d.setInt16(o, Number(v), l) },
  { kind: 'u2', size: 2, values: [0, 40000, 65535], dataType: DataType.UINT16, write: (d, o, v, l) => d.setUint16(o, Number(v), l) },
  { kind: 'i4', size: 4, values: [-2147483648, 5, 2147483647], dataType: DataType.INT32, write: (d, o, v, l) => d.setInt32(o, Number(v), l) },
  { kind: 'u4', size: 4, values: [0, 3000000000, 4294967295], dataType: DataType.UINT32, write: (d, o, v, l) => d.setUint32(o, Number(v), l) },
  { kind: 'i8', size: 8, values: [-(2n ** 63n), 7n, 2n ** 62n], dataType: DataType.INT64, write: (d, o, v, l) => d.setBigInt64(o, BigInt(v), l) },
  { kind: 'u8', size: 8, values: [0n, 2n ** 64n - 1n, 5n], dataType: DataType.UINT64, write: (d, o, v, l) => d.setBigUint64(o, BigInt(v), l) },
  { kind: 'b1', size: 1, values: [1, 0, 1], dataType: DataType.BOOL, write: (d, o, v) => d.setUint8(o, Number(v)) },
];

function encode(c: Case, little: boolean): Uint8Array {
  const data = new Uint8Array(c.values.length * c.size);
  const dv = new DataView(data.buffer);
  c.values.forEach((v, i) => c.write(dv, i * c.size, v, little));
  return data;
}

for (const c of cases) {
  const orders = c.size === 1 ? ['|'] : ['<', '>'];
  for (const order of orders) {
    test(`npy ${order}${c.kind}: values, type and shape`, () => {
      const bytes = npyBytes(`${order}${c.kind}`, [3], encode(c, order !== '>'));
      const a = parseNpy(bytes, "'t.npy'");
      assert.equal(a.dataType, c.dataType);
      assert.deepEqual(a.shape, [3]);
      assert.deepEqual(Array.from(a.data as ArrayLike<number | bigint>), c.values);
    });
  }
}

test('npy versions 2.0 and 3.0, multi-dimensional shapes, scalars and empty arrays', () => {
  const data = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
  for (const version of [2, 3] as const) {
    const a = parseNpy(npyBytes('<f4', [2, 3], data, { version }), "'v.npy'");
    assert.deepEqual(a.shape, [2, 3]);
    assert.deepEqual(Array.from(a.data as Float32Array), [1, 2, 3, 4, 5, 6]);
  }
  const scalar = parseNpy(npyBytes('<f4', [], new Uint8Array(new Float32Array([7]).buffer)), "'s.npy'");
  assert.deepEqual(scalar.shape, []);
  assert.deepEqual(Array.from(scalar.data as Float32Array), [7]);
  const empty = parseNpy(npyBytes('<f4', [0, 4], new Uint8Array(0)), "'e.npy'");
  assert.deepEqual(empty.shape, [0, 4]);
  assert.equal(empty.data.length, 0);
  // Fortran order is harmless for 1-D data (the same bytes either way).
  assert.deepEqual(Array.from(parseNpy(npyBytes('<f4', [6], data, { fortran: true }), "'f.npy'").data as Float32Array), [1, 2, 3, 4, 5, 6]);
});

test('an aligned little-endian file is viewed, not copied; unaligned or big-endian data is copied once', () => {
  const values = Float32Array.from({ length: 1000 }, (_, i) => i * 0.5);
  const bytes = npyBytes('<f4', [250, 4], new Uint8Array(values.buffer));
  const a = parseNpy(bytes, "'a.npy'");
  assert.equal(a.data.buffer, bytes.buffer, 'a view of the file bytes');
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const b = parseNpy(shifted.subarray(1), "'b.npy'");
  assert.notEqual(b.data.buffer, shifted.buffer);
  assert.deepEqual(Array.from(b.data as Float32Array).slice(0, 5), [0, 0.5, 1, 1.5, 2]);
  const dir = tempDir('compress-npy-');
  writeFileSync(join(dir, 'x.npy'), bytes);
  const c = readNpy(join(dir, 'x.npy'));
  assert.equal((c.data as Float32Array)[999], 499.5);
  // Read from disk (a Node Buffer) and big-endian: the swapped copy must hold the data, not the header.
  const be = new Uint8Array(8 * 3);
  [1.5, -7, 2 ** 33].forEach((v, i) => new DataView(be.buffer).setFloat64(i * 8, v, false));
  writeFileSync(join(dir, 'be.npy'), npyBytes('>f8', [3], be));
  assert.deepEqual(Array.from(readNpy(join(dir, 'be.npy')).data as Float64Array), [1.5, -7, 2 ** 33]);
});

function rejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(() => parseNpy(bytes, "'bad.npy'"), (e: Error) => e instanceof UsageError && e.exitCode === 2 && /'bad\.npy'/.test(e.message) && pattern.test(e.message));
}

test('bad .npy files: magic, truncation, Fortran order, unknown dtypes, extra bytes', () => {
  const data = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
  const good = npyBytes('<f4', [2, 2], data);
  rejects(Buffer.from('PK\u0003\u0004 not numpy at all'), /bad magic/);
  rejects(good.subarray(0, good.length - 3), /truncated: .*16 bytes of data.*13 bytes follow/);
  rejects(good.subarray(0, 40), /truncated: it ends inside the \.npy header/);
  rejects(npyBytes('<f4', [2, 2], data, { fortran: true }), /Fortran/);
  rejects(npyBytes('<c8', [2], data), /dtype '<c8'/);
  rejects(npyBytes('<U2', [2], data), /dtype '<U2'/);
  rejects(npyBytes('|b1', [4], new Uint8Array([0, 1, 2, 1])), /bool array holding the byte 2/);
  const extra = new Uint8Array(good.length + 4);
  extra.set(good);
  rejects(extra, /4 bytes after the array/);
  rejects(npyBytes("[('a', '<f4'), ('b', '<f4')]", [2], data), /structured/);
  const version9 = good.slice();
  version9[6] = 9;
  rejects(version9, /version 9\.0/);
  assert.throws(() => readNpy('/nonexistent/x.npy'), (e: Error) => e instanceof UsageError && /does not exist/.test(e.message));
});
