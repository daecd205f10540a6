/**
 * NumPy .npy files (format versions 1.0, 2.0 and 3.0, numpy/lib/format.py):
 *
 *   "\x93NUMPY" | major | minor | header length (uint16 LE in v1, uint32 LE in v2/v3) | header | data
 *
 * The header is a Python dict literal, `{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }`,
 * latin-1 in v1/v2 and UTF-8 in v3, padded with spaces to a multiple of 64 (16 in old files) bytes.
 * We read plain numeric dtypes in either byte order; the data becomes the IR's canonical array for the
 * matching ONNX type (float16 kept as bits, int64 as BigInt64Array, bool as one byte each). A
 * little-endian file whose data is aligned is viewed in place, never copied, so slicing batches out of a
 * 60 000-sample array costs nothing; big-endian data is byte-swapped once.
 */
import { readFileSync } from 'node:fs';
import { DataType, dataTypeName } from '../../core/dtype.js';
import { UsageError } from '../../core/errors.js';
import type { NumericArray } from '../../ir/tensor.js';

/** A numeric array read from a file: ONNX data type, shape, canonical data. */
export interface HostArray {
  dataType: number;
  shape: number[];
  data: NumericArray;
}

interface DtypeInfo {
  dataType: number;
  size: number;
  make: (buffer: ArrayBuffer, byteOffset: number, length: number) => NumericArray;
}

/** numpy kind+itemsize -> ONNX type and array view. */
const dtypes: Record<string, DtypeInfo> = {
  f4: { dataType: DataType.FLOAT, size: 4, make: (b, o, n) => new Float32Array(b, o, n) },
  f8: { dataType: DataType.DOUBLE, size: 8, make: (b, o, n) => new Float64Array(b, o, n) },
  f2: { dataType: DataType.FLOAT16, size: 2, make: (b, o, n) => new Uint16Array(b, o, n) },
  i1: { dataType: DataType.INT8, size: 1, make: (b, o, n) => new Int8Array(b, o, n) },
  u1: { dataType: DataType.UINT8, size: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  i2: { dataType: DataType.INT16, size: 2, make: (b, o, n) => new Int16Array(b, o, n) },
  u2: { dataType: DataType.UINT16, size: 2, make: (b, o, n) => new Uint16Array(b, o, n) },
  i4: { dataType: DataType.INT32, size: 4, make: (b, o, n) => new Int32Array(b, o, n) },
  u4: { dataType: DataType.UINT32, size: 4, make: (b, o, n) => new Uint32Array(b, o, n) },
  i8: { dataType: DataType.INT64, size: 8, make: (b, o, n) => new BigInt64Array(b, o, n) },
  u8: { dataType: DataType.UINT64, size: 8, make: (b, o, n) => new BigUint64Array(b, o, n) },
  b1: { dataType: DataType.BOOL, size: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
};

/** The dtypes we read, for messages. */
export const supportedNpyDtypes = Object.keys(dtypes);

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** The parsed header of a .npy file. */
export interface NpyHeader {
  version: [number, number];
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** Byte offset of the data. */
  dataOffset: number;
}

/** Parses the magic and header; `label` names the file in errors. */
export function parseNpyHeader(bytes: Uint8Array, label: string): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new UsageError(`${label} is not a .npy file (bad magic: it should start with \\x93NUMPY)`, 'save arrays with numpy.save');
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3) throw new UsageError(`${label} is .npy format version ${major}.${minor}; versions 1.0 to 3.0 are read`);
  const lenBytes = major === 1 ? 2 : 4;
  const start = 8 + lenBytes;
  if (bytes.length < start) throw new UsageError(`${label} is truncated: it ends inside the .npy header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  if (bytes.length < start + headerLength) throw new UsageError(`${label} is truncated: it ends inside the .npy header`);
  const raw = bytes.subarray(start, start + headerLength);
  const text = major === 3 ? new TextDecoder('utf-8').decode(raw) : Buffer.from(raw).toString('latin1');

  const descr = /['"]descr['"]\s*:\s*(['"])([^'"]*)\1/.exec(text)?.[2];
  if (descr === undefined) {
    if (/['"]descr['"]\s*:\s*\[/.test(text)) throw new UsageError(`${label} holds a structured (record) array; save one plain numeric array per file`);
    throw new UsageError(`${label} has a .npy header without a 'descr' entry`);
  }
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  if (fortran === undefined) throw new UsageError(`${label} has a .npy header without 'fortran_order'`);
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (shapeText === undefined) throw new UsageError(`${label} has a .npy header without a 'shape' tuple`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      if (!/^\d+L?$/.test(s)) throw new UsageError(`${label} has a bad shape entry '${s}' in its .npy header`);
      return Number(s.replace('L', ''));
    });
  return { version: [major, minor], descr, fortranOrder: fortran === 'True', shape, dataOffset: start + headerLength };
}

/** Parses a whole .npy file held in memory. The result may view `bytes` (do not reuse the buffer). */
export function parseNpy(bytes: Uint8Array, label: string): HostArray {
  const h = parseNpyHeader(bytes, label);
  const order = h.descr[0]!;
  const code = '<>|='.includes(order) ? h.descr.slice(1) : h.descr;
  const key = code === '?' ? 'b1' : code;
  const info = dtypes[key];
  if (!info) {
    throw new UsageError(`${label} has dtype '${h.descr}', which is not read`, `save it as one of: ${supportedNpyDtypes.join(', ')} (e.g. arr.astype(np.float32))`);
  }
  if (h.fortranOrder && h.shape.filter((d) => d > 1).length > 1) {
    throw new UsageError(`${label} is stored in Fortran (column-major) order, which is not read`, 'save it with numpy.save(path, np.ascontiguousarray(arr))');
  }
  const count = h.shape.reduce((a, b) => a * b, 1);
  const need = count * info.size;
  const have = bytes.length - h.dataOffset;
  if (have < need) {
    throw new UsageError(`${label} is truncated: its header says ${h.descr} [${h.shape.join(', ')}] (${need} bytes of data) but only ${have} bytes follow`);
  }
  if (have > need) {
    throw new UsageError(`${label} has ${have - need} bytes after the array its header describes (${h.descr} [${h.shape.join(', ')}]); the file is damaged or not a single .npy array`);
  }
  const bigEndian = order === '>' && info.size > 1;
  const offset = bytes.byteOffset + h.dataOffset;
  let data: NumericArray;
  if (!bigEndian && offset % info.size === 0) {
    data = info.make(bytes.buffer as ArrayBuffer, offset, count);
  } else {
    // Unaligned (or big-endian): one copy into a fresh buffer, swapping bytes when needed. (Not
    // bytes.slice: on a Node Buffer that is a view, not a copy.)
    const copy = new Uint8Array(need);
    copy.set(bytes.subarray(h.dataOffset, h.dataOffset + need));
    if (bigEndian) {
      for (let i = 0; i < need; i += info.size) copy.subarray(i, i + info.size).reverse();
    }
    data = info.make(copy.buffer, 0, count);
  }
  if (info.dataType === DataType.BOOL) {
    for (let i = 0; i < data.length; i++) {
      if ((data[i] as number) > 1) throw new UsageError(`${label} is a bool array holding the byte ${String(data[i])} at element ${i}`);
    }
  }
  return { dataType: info.dataType, shape: h.shape, data };
}

/** Reads a data file's bytes; a missing file or a folder is a usage error naming it (`kind`: 'a .npy'). */
export function readDataFile(path: string, label: string, kind: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${label} does not exist`);
    if (code === 'EISDIR') throw new UsageError(`${label} is a folder, not ${kind} file`);
    throw new UsageError(`cannot read ${label}: ${(e as Error).message}`);
  }
}

/** Reads a .npy file. */
export function readNpy(path: string, label = `'${path}'`): HostArray {
  return parseNpy(readDataFile(path, label, 'a .npy'), label);
}

/** "FLOAT [1000, 784]" for messages. */
export function describeArray(a: { dataType: number; shape: readonly number[] }): string {
  return `${dataTypeName(a.dataType)} [${a.shape.join(', ')}]`;
}
