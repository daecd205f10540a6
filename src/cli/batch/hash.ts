/**
 * Content hashes for the batch manifest: SHA-256 read in chunks (never a whole multi-GB file in memory),
 * of a file or of a folder's files, and a canonical JSON form whose hash does not depend on key order.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { byCodeUnits } from './inputs.js';

/** Bytes read at a time. */
const chunkBytes = 4 << 20;

/** The SHA-256 (hex) of a file's bytes and its size, read `chunkBytes` at a time. */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  const buffer = Buffer.allocUnsafe(chunkBytes);
  let bytes = 0;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, chunkBytes, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * The SHA-256 of a file, or of a folder's files (their paths below it, sorted, and their contents), for
 * data given by path (--data may be a folder in the ONNX test layout).
 */
export async function hashPath(path: string): Promise<string> {
  if (!statSync(path).isDirectory()) return (await hashFile(path)).sha256;
  const files: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const n of readdirSync(dir).sort(byCodeUnits)) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p, `${rel}${n}/`);
      else files.push(`${rel}${n}`);
    }
  };
  walk(path, '');
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f}\0${(await hashFile(join(path, f))).sha256}\n`);
  return hash.digest('hex');
}

/**
 * JSON with object keys sorted at every level and undefined left out; RegExps and bigints as strings.
 * Two option objects that mean the same print the same.
 */
export function canonicalJson(value: unknown): string {
  const norm = (v: unknown): unknown => {
    if (v === null || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
    if (typeof v === 'bigint' || v instanceof RegExp) return String(v);
    if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : norm(x)));
    if (typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v as object).sort(byCodeUnits)) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined && typeof x !== 'function') out[k] = norm(x);
      }
      return out;
    }
    return undefined;
  };
  return JSON.stringify(norm(value));
}
