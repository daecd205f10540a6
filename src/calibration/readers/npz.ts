/**
 * NumPy .npz files: a zip archive of .npy members (numpy.savez stores them, numpy.savez_compressed
 * deflates them), one array per member, named `<key>.npy`. Unzipped with fflate (stored and deflated
 * members, ZIP64 included); each member is then a .npy file (npy.ts).
 */
import { unzipSync } from 'fflate';
import { UsageError } from '../../core/errors.js';
import { parseNpy, readDataFile, type HostArray } from './npy.js';

/** Reads every array of an .npz file, by key (the member name without `.npy`). */
export function readNpz(path: string, label = `'${path}'`): Map<string, HostArray> {
  return parseNpz(readDataFile(path, label, 'an .npz'), label);
}

/** Parses an .npz archive held in memory. */
export function parseNpz(bytes: Uint8Array, label: string): Map<string, HostArray> {
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    throw new UsageError(`${label} is not an .npz file (bad magic: an .npz is a zip archive starting with 'PK')`, 'save arrays with numpy.savez');
  }
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes);
  } catch (e) {
    throw new UsageError(`${label} is not a readable .npz (zip) archive: ${(e as Error).message}; it may be truncated`);
  }
  const out = new Map<string, HostArray>();
  for (const [name, data] of Object.entries(members)) {
    if (name.endsWith('/')) continue;
    if (!name.endsWith('.npy')) throw new UsageError(`${label} holds '${name}', which is not a .npy member`);
    out.set(name.slice(0, -'.npy'.length), parseNpy(data, `${label} member '${name}'`));
  }
  if (out.size === 0) throw new UsageError(`${label} holds no arrays`);
  return out;
}
