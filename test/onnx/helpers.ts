/**
 * Helpers shared by the onnx/ tests: a field-by-field comparison of decoded protobuf messages, the
 * lists of models the round-trip tests run over, and temporary folders.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { decodeModelProto, Types } from '../../src/onnx/schema.js';

/** The repository root (tests run from dist/test/onnx/). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function isLong(v: unknown): v is { low: number; high: number; unsigned?: boolean } {
  return typeof v === 'object' && v !== null && 'low' in v && 'high' in v;
}

/** int64 values as bigints, whatever form they took (number, Long). */
function asBig(v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'bigint') return v;
  if (isLong(v)) return BigInt.asIntN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0));
  return undefined;
}

function sameScalar(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b) === 0;
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
  const ba = asBig(a);
  const bb = asBig(b);
  if (ba !== undefined && bb !== undefined) return BigInt.asUintN(64, ba) === BigInt.asUintN(64, bb);
  return a === b;
}

function show(v: unknown): string {
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (isLong(v)) return String(asBig(v));
  return JSON.stringify(v);
}

/**
 * Differences between two decoded messages of `type`, field by field: presence of optional fields,
 * repeated lengths and elements, nested messages, and kept unknown fields. Int64 values compare by value
 * whether Long or number; floats by bits-equivalent identity (NaN equals NaN). Returns at most `limit`.
 */
export function diffMessages(type: protobuf.Type, a: Record<string, unknown>, b: Record<string, unknown>, path = type.name, limit = 10): string[] {
  const out: string[] = [];
  const walk = (t: protobuf.Type, x: Record<string, unknown>, y: Record<string, unknown>, p: string): void => {
    for (const field of t.fieldsArray) {
      if (out.length >= limit) return;
      const name = field.name;
      const sub = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
      if (field.repeated) {
        const xs = (x[name] ?? []) as ArrayLike<unknown>;
        const ys = (y[name] ?? []) as ArrayLike<unknown>;
        if (xs.length !== ys.length) {
          out.push(`${p}.${name}: ${xs.length} vs ${ys.length} entries`);
          continue;
        }
        for (let i = 0; i < xs.length; i++) {
          if (sub) walk(sub, xs[i] as Record<string, unknown>, ys[i] as Record<string, unknown>, `${p}.${name}[${i}]`);
          else if (!sameScalar(xs[i], ys[i])) {
            out.push(`${p}.${name}[${i}]: ${show(xs[i])} vs ${show(ys[i])}`);
            break;
          }
        }
        continue;
      }
      const hx = Object.prototype.hasOwnProperty.call(x, name) && x[name] !== null && x[name] !== undefined;
      const hy = Object.prototype.hasOwnProperty.call(y, name) && y[name] !== null && y[name] !== undefined;
      if (hx !== hy) {
        out.push(`${p}.${name}: ${hx ? 'present' : 'absent'} vs ${hy ? 'present' : 'absent'}`);
        continue;
      }
      if (!hx) continue;
      if (sub) walk(sub, x[name] as Record<string, unknown>, y[name] as Record<string, unknown>, `${p}.${name}`);
      else if (!sameScalar(x[name], y[name])) out.push(`${p}.${name}: ${show(x[name])} vs ${show(y[name])}`);
    }
    const ux = Buffer.concat((x.$unknowns as Uint8Array[] | undefined) ?? []);
    const uy = Buffer.concat((y.$unknowns as Uint8Array[] | undefined) ?? []);
    if (Buffer.compare(ux, uy) !== 0) out.push(`${p}: unknown fields differ (${ux.length} vs ${uy.length} bytes)`);
  };
  walk(type, a, b, path);
  return out;
}

/** Decodes two model files' bytes with our schema and compares them field by field. */
export function diffModelBytes(a: Uint8Array, b: Uint8Array, limit = 10): string[] {
  const ma = decodeModelProto(a) as unknown as Record<string, unknown>;
  const mb = decodeModelProto(b) as unknown as Record<string, unknown>;
  return diffMessages(Types.ModelProto, ma, mb, 'model', limit);
}

/** model.onnx files of Debian's libonnx-testdata (empty when the package is not installed). */
export function testdataModels(): string[] {
  try {
    const out = execFileSync('dpkg', ['-L', 'libonnx-testdata'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').filter((l) => l.endsWith('/model.onnx')).sort();
  } catch {
    const root = '/usr/share/libonnx-testdata/data';
    if (!existsSync(root)) return [];
    const found: string[] = [];
    for (const kind of readdirSync(root)) {
      for (const name of readdirSync(join(root, kind))) {
        const m = join(root, kind, name, 'model.onnx');
        if (existsSync(m)) found.push(m);
      }
    }
    return found.sort();
  }
}

/** fixtures/<name>/model.onnx, as they are when the test runs. */
export function fixtureModels(): string[] {
  const dir = join(repoRoot, 'fixtures');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => join(dir, name, 'model.onnx'))
    .filter((p) => existsSync(p) && statSync(p).isFile())
    .sort();
}

/** The real models scripts/fetch-models.mjs fetches into .cache/models, with those missing listed apart. */
export const REAL_MODELS = ['ppocr-rec-v4', 'ppocr-det-v4', 'ppocr-cls-v2', 'silero-vad-v5', 'silero-vad-op18'];
export function realModels(): { present: string[]; missing: string[] } {
  const present: string[] = [];
  const missing: string[] = [];
  for (const name of REAL_MODELS) {
    const p = join(repoRoot, '.cache', 'models', `${name}.onnx`);
    if (existsSync(p)) present.push(p);
    else missing.push(p);
  }
  return { present, missing };
}

/** A fresh temporary folder, removed by the returned function. */
export function tempDir(prefix = 'compress-onnx-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Names of leftover temporary files (`*.tmp-*`) in a folder. */
export function leftoverTemps(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.includes('.tmp-'));
}
