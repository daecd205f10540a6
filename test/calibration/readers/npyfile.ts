/**
 * Writes .npy files byte by byte for the reader tests (no numpy at test time).
 */

/** The bytes of a .npy file: magic, version, header length, space-padded dict header, data (a descr
 * starting with '[' is written as a structured-dtype list). */
export function npyBytes(descr: string, shape: number[], data: Uint8Array, opts: { version?: 1 | 2 | 3; fortran?: boolean } = {}): Uint8Array {
  const version = opts.version ?? 1;
  const shapeText = `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
  const descrText = descr.startsWith('[') ? descr : `'${descr}'`;
  const dict = `{'descr': ${descrText}, 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const header = Buffer.from(`${dict.padEnd(total - pre - 1, ' ')}\n`, version === 3 ? 'utf8' : 'latin1');
  const out = new Uint8Array(pre + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  out.set(header, pre);
  out.set(data, pre + header.length);
  return out;
}
