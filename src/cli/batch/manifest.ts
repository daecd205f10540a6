/**
 * The manifest beside each output (`<output>.manifest.json`), which makes `--skip-existing` safe: it
 * records what the output was made from (the input model and its external data files, by SHA-256), how
 * (the output-shaping options, the contents of the data files they name, the backend) and what was
 * written (the model, its data files and its report, by SHA-256), and the outcome (exit code, bytes).
 *
 * An output counts as complete only when its manifest exists, was made by the same options and backend,
 * from an input with the same bytes, and every file it lists still has the bytes it recorded. The
 * manifest is removed before a model is redone and written last, atomically, so a run interrupted at any
 * point leaves either a complete output or one without a manifest, which a rerun makes again.
 *
 * Options that do not shape the output (--jobs, --threads, --quiet, --verbose, --json, --summary,
 * --shard, --skip-existing, --force, -o and --report) are not part of the key.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { BackendName } from '../../runtime/backend.js';
import { canonicalJson, hashFile, hashPath } from './hash.js';

/** One file a manifest vouches for: its path relative to the folder it is resolved against, size and hash. */
export interface ManifestFile {
  name: string;
  bytes: number;
  sha256: string;
}

/** What the output-shaping options are, in the form the manifest records and compares. */
export interface BatchKey {
  tool: string;
  command: string;
  /** The pass's options as the command line gave them (seed and backend included), less --dry-run. */
  options: unknown;
  /** --data and friends (paths, samples, batch size, task). */
  dataOptions: unknown;
  /** The report gates (they decide the recorded exit code). */
  gates: unknown;
  /** SHA-256 of each data file the options name (calibration data shapes the output). */
  data: Record<string, string>;
  /** The --backend asked for. */
  backend: BackendName;
}

/** `<output>.manifest.json`. */
export interface Manifest {
  schema: 1;
  kind: 'compress-manifest';
  key: BatchKey;
  /** The backend the pass ran on (its name, without threads), or null when it ran none. */
  backendUsed: string | null;
  /** The input model file first, then its external data files; names relative to the input's folder. */
  input: ManifestFile[];
  /** The output model file first, then its external data files; names relative to the output's folder. */
  output: ManifestFile[];
  /** The report JSON (name relative to the output's folder), or null with --no-report. */
  report: ManifestFile | null;
  result: { exitCode: number; bytesBefore: number; bytesAfter: number };
}

/** Where an output's manifest goes. */
export function manifestPath(output: string): string {
  return `${output}.manifest.json`;
}

/** Option keys that name data files; their contents go into the key. */
const dataKeys = new Set(['data', 'labels', 'evalData', 'evalLabels', 'teacher']);

/**
 * The key of a run: the pass's options (as its own check completed them, so that a default and the same
 * value typed out are one key) with --dry-run left out, and the SHA-256 of every data file they name
 * (a file or a folder; `random:<n>` is not a file).
 */
export async function batchKey(parts: { tool: string; command: string; options: Record<string, unknown>; data?: object; gates?: object; backend: BackendName }): Promise<BatchKey> {
  const options: Record<string, unknown> = { ...parts.options };
  delete options.dryRun;
  const paths = new Set<string>();
  const collect = (v: unknown, key?: string) => {
    if (typeof v === 'string' && key !== undefined && dataKeys.has(key) && !v.startsWith('random:') && existsSync(v)) paths.add(v);
    else if (Array.isArray(v)) v.forEach((x) => collect(x));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) collect(x, k);
  };
  collect(options);
  collect(parts.data);
  const data: Record<string, string> = {};
  for (const p of [...paths].sort()) data[p] = await hashPath(p);
  return JSON.parse(canonicalJson({ tool: parts.tool, command: parts.command, options, dataOptions: parts.data ?? null, gates: parts.gates ?? {}, data, backend: parts.backend })) as BatchKey;
}

/**
 * The backend `--backend auto` picks on this machine: the first of the optional tfjs-node packages that
 * is installed, else wasm (runtime/backend.ts's order), found without loading any of them.
 */
export function autoBackend(): string {
  const require = createRequire(import.meta.url);
  for (const name of ['tfjs-node-gpu', 'tfjs-node']) {
    try {
      require.resolve(`@tensorflow/${name}`);
      return name;
    } catch {
      // not installed: the next one
    }
  }
  return 'wasm';
}

async function described(path: string, base: string): Promise<ManifestFile> {
  const { sha256, bytes } = await hashFile(path);
  return { name: relative(base, resolve(path)) || basename(path), bytes, sha256 };
}

/** What a finished model leaves for its manifest: the files read and written (absolute or as given). */
export interface ManifestRecord {
  input: string;
  inputFiles: string[];
  output: string;
  outputFiles: string[];
  reportPath?: string;
  backendUsed: string | null;
  exitCode: number;
  bytesBefore: number;
  bytesAfter: number;
}

/** Hashes what a model was made from and what was written, and writes its manifest (temp file + rename). */
export async function writeManifest(key: BatchKey, r: ManifestRecord): Promise<Manifest> {
  const inDir = dirname(resolve(r.input));
  const outDir = dirname(resolve(r.output));
  const inputs = [resolve(r.input), ...r.inputFiles.map((f) => resolve(f)).filter((f) => f !== resolve(r.input))];
  const outputs = [resolve(r.output), ...r.outputFiles.map((f) => resolve(f)).filter((f) => f !== resolve(r.output))];
  const manifest: Manifest = {
    schema: 1,
    kind: 'compress-manifest',
    key,
    backendUsed: r.backendUsed,
    input: await Promise.all(inputs.map((f) => described(f, inDir))),
    output: await Promise.all(outputs.map((f) => described(f, outDir))),
    report: r.reportPath !== undefined && existsSync(r.reportPath) ? await described(r.reportPath, outDir) : null,
    result: { exitCode: r.exitCode, bytesBefore: r.bytesBefore, bytesAfter: r.bytesAfter },
  };
  const path = manifestPath(r.output);
  const temp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  await writeFile(temp, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(temp, path);
  return manifest;
}

/** Removes an output's manifest (before the output is made again): until a new one is written, it is incomplete. */
export async function removeManifest(output: string): Promise<void> {
  await unlink(manifestPath(output)).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}

/** The verdict of `checkComplete`. */
export type Completeness = { complete: true; manifest: Manifest } | { complete: false; reason: string };

async function sameFile(f: ManifestFile, base: string): Promise<boolean> {
  const path = join(base, f.name);
  if (!existsSync(path)) return false;
  const now = await hashFile(path);
  return now.bytes === f.bytes && now.sha256 === f.sha256;
}

/**
 * Whether `output` is complete and was made from `input` with `key` (module comment); the reason when
 * it is not ("no manifest", "the input changed", ...).
 */
export async function checkComplete(input: string, output: string, reportPath: string | undefined, key: BatchKey): Promise<Completeness> {
  const path = manifestPath(output);
  if (!existsSync(path)) return { complete: false, reason: existsSync(output) ? 'it has no manifest (an interrupted or older run)' : 'no output yet' };
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch {
    return { complete: false, reason: 'its manifest is unreadable' };
  }
  if (manifest?.kind !== 'compress-manifest' || manifest.schema !== 1 || !Array.isArray(manifest.input) || !Array.isArray(manifest.output)) {
    return { complete: false, reason: 'its manifest is not one of ours' };
  }
  if (canonicalJson(manifest.key) !== canonicalJson(key)) return { complete: false, reason: `it was made with other options (${keyDifference(manifest.key, key)})` };
  if (key.backend === 'auto' && manifest.backendUsed !== null && manifest.backendUsed !== autoBackend()) {
    return { complete: false, reason: `it was made on ${manifest.backendUsed}; --backend auto now picks ${autoBackend()}` };
  }
  // The model file is the one given now (whatever it was called then); its data files sit beside it.
  const inDir = dirname(resolve(input));
  for (const [i, f] of manifest.input.entries()) {
    if (!(await sameFile(i === 0 ? { ...f, name: basename(resolve(input)) } : f, inDir))) return { complete: false, reason: `the input changed (${i === 0 ? basename(input) : f.name})` };
  }
  const outDir = dirname(resolve(output));
  if (manifest.output[0]?.name !== basename(resolve(output))) return { complete: false, reason: 'its manifest names another output' };
  for (const f of manifest.output) if (!(await sameFile(f, outDir))) return { complete: false, reason: `the output file ${f.name} is missing or changed` };
  if (reportPath !== undefined) {
    if (manifest.report === null) return { complete: false, reason: 'it has no report' };
    if (resolve(outDir, manifest.report.name) !== resolve(reportPath)) return { complete: false, reason: 'its report is elsewhere' };
    if (!(await sameFile(manifest.report, outDir))) return { complete: false, reason: 'its report is missing or changed' };
  }
  return { complete: true, manifest };
}

/** The first top-level part of two keys that differs, for the reason line. */
function keyDifference(a: BatchKey, b: BatchKey): string {
  for (const k of ['tool', 'command', 'backend', 'options', 'dataOptions', 'gates', 'data'] as const) {
    if (canonicalJson(a?.[k]) !== canonicalJson(b[k])) return k === 'data' ? 'the data files changed' : k;
  }
  return 'options';
}
