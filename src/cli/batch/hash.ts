/**
 * Content hashes for the batch manifest: SHA-256 read in chunks (never a whole multi-GB file in memory),
 * of a file or of a folder's files, and a canonical JSON form whose hash does not depend on key order.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { byCodeUnits } from './inputs.js';

/** Bytes read at a time. */
const chunkBytes = 4 << 20;

/**
 * The hashing thread: SHA-256 of whole files, read `chunkBytes` at a time. A multi-GB model's hash takes
 * seconds of one core; in a thread of its own it overlaps the work on the model (prefetchHashes).
 */
const workerSource = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const buffer = Buffer.allocUnsafe(${chunkBytes});
parentPort.on('message', ({ id, path }) => {
  try {
    const hash = createHash('sha256');
    const fd = openSync(path, 'r');
    let bytes = 0;
    try {
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, null);
        if (n === 0) break;
        hash.update(buffer.subarray(0, n));
        bytes += n;
      }
    } finally {
      closeSync(fd);
    }
    parentPort.postMessage({ id, sha256: hash.digest('hex'), bytes });
  } catch (e) {
    parentPort.postMessage({ id, error: e.message, code: e.code });
  }
});
`;

type Hashed = { sha256: string; bytes: number };

let worker: Worker | undefined;
let nextId = 0;
const waiting = new Map<number, { resolve: (h: Hashed) => void; reject: (e: Error) => void }>();
/** Hashes asked for, by path, size and modification time (a file that changed is hashed again). */
const memo = new Map<string, Promise<Hashed>>();

function hashInThread(path: string): Promise<Hashed> {
  if (!worker) {
    worker = new Worker(workerSource, { eval: true });
    worker.on('message', (m: { id: number; sha256?: string; bytes?: number; error?: string; code?: string }) => {
      const w = waiting.get(m.id);
      waiting.delete(m.id);
      if (waiting.size === 0) worker?.unref();
      if (!w) return;
      if (m.error !== undefined) w.reject(Object.assign(new Error(m.error), { code: m.code }));
      else w.resolve({ sha256: m.sha256!, bytes: m.bytes! });
    });
    worker.on('error', (e) => {
      for (const w of waiting.values()) w.reject(e);
      waiting.clear();
      worker = undefined;
    });
  }
  const id = nextId++;
  // Referenced while a hash is awaited (so the process waits for it), not otherwise.
  worker.ref();
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    worker!.postMessage({ id, path });
  });
}

/** Files from this size up are hashed in the hashing thread (starting it costs more than a small hash). */
const threadBytes = 64 * 2 ** 20;

async function hashHere(path: string): Promise<Hashed> {
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

/** The SHA-256 (hex) of a file's bytes and its size, read `chunkBytes` at a time (big files in the hashing thread). */
export async function hashFile(path: string): Promise<Hashed> {
  const abs = resolve(path);
  const st = await stat(abs);
  const key = `${abs}\0${st.size}\0${st.mtimeMs}`;
  let p = memo.get(key);
  if (!p) {
    // A small file is hashed here at once; a big one in the thread, overlapping other work.
    p = st.size < threadBytes ? hashHere(abs) : hashInThread(abs);
    memo.set(key, p);
    p.catch(() => memo.delete(key));
  }
  return p;
}

/**
 * Starts hashing files that a manifest will name later (a model's input files, as soon as it is opened),
 * so that the hash is ready, or nearly, when the manifest is written.
 */
export function prefetchHashes(paths: readonly string[]): void {
  for (const p of paths) hashFile(p).catch(() => undefined);
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
