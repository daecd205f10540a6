/**
 * Backend selection (src/runtime/backend.ts). tfjs has one backend per process, so each case runs in a
 * child process, without the test runner's COMPRESS_BACKEND and without TensorFlow's log settings (the
 * defaults are under test): an explicit backend loads that backend's package and no other, `auto` takes
 * the first that loads, COMPRESS_BACKEND chooses what `auto` means, and TensorFlow's startup lines never
 * reach stderr. Where tfjs-node is installed (`npm run setup:native`; CI's native run) its cases run it;
 * where it is not, they check the error a user gets instead.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli/helpers.js';
import { testBackend } from '../helpers/backend.js';
import { repoRoot } from '../helpers/repo.js';

const backendJs = fileURLToPath(new URL('../../src/runtime/backend.js', import.meta.url));

/** Whether @tensorflow/tfjs-node resolves from the checkout (it is an optional addition). */
const tfjsNodeInstalled = (() => {
  try {
    createRequire(`${repoRoot()}/package.json`).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
})();

/** Initialises `name` in a child and reports the backend and which backend packages got loaded. */
const script = `
import { createRequire } from 'node:module';
const b = await import(${JSON.stringify(backendJs)});
let info, error;
try {
  info = await b.initBackend(process.argv[1]);
} catch (e) {
  error = { message: e.message, hint: e.hint, exitCode: e.exitCode };
}
const loaded = Object.keys(createRequire(import.meta.url).cache);
const has = (pkg) => loaded.some((f) => f.includes('/node_modules/@tensorflow/' + pkg + '/'));
console.log(JSON.stringify({ info, error, tfjsNode: has('tfjs-node'), wasm: has('tfjs-backend-wasm') }));
`;

interface ChildReport {
  info?: { name: string; tfBackend: string; threads?: number };
  error?: { message: string; hint?: string; exitCode: number };
  tfjsNode: boolean;
  wasm: boolean;
  stderr: string;
}

function select(name: string, env: Record<string, string> = {}): Promise<ChildReport> {
  const clean = { ...process.env };
  for (const k of ['COMPRESS_BACKEND', 'TF_CPP_MIN_LOG_LEVEL', 'TF_ENABLE_ONEDNN_OPTS', 'TF_NUM_INTRAOP_THREADS']) delete clean[k];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, name], { env: { ...clean, COMPRESS_THREADS: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        assert.equal(code, 0, `child exited ${code}: ${stderr}`);
        resolvePromise({ ...(JSON.parse(stdout.trim().split('\n').pop()!) as Omit<ChildReport, 'stderr'>), stderr });
      } catch (e) {
        reject(e);
      }
    });
  });
}

test('--backend wasm loads the wasm backend and not tfjs-node, whether or not tfjs-node is installed', async () => {
  const r = await select('wasm');
  assert.equal(r.info?.name, 'wasm');
  assert.equal(r.wasm, true);
  assert.equal(r.tfjsNode, false, 'tfjs-node must not be loaded with an explicit --backend wasm');
  assert.equal(r.stderr, '');
});

test('--backend cpu loads neither wasm nor tfjs-node', async () => {
  const r = await select('cpu');
  assert.equal(r.info?.name, 'cpu');
  assert.deepEqual([r.wasm, r.tfjsNode], [false, false]);
  assert.equal(r.stderr, '');
});

test('auto stops at the first backend that loads: tfjs-node when installed, else wasm; nothing on stderr', async () => {
  const r = await select('auto');
  assert.equal(r.stderr, '', "TensorFlow's startup lines must not reach stderr");
  if (tfjsNodeInstalled) {
    assert.equal(r.info?.name, 'tfjs-node');
    assert.equal(r.wasm, false, 'auto loaded wasm although tfjs-node came first');
  } else {
    assert.equal(r.info?.name, 'wasm');
    assert.equal(r.tfjsNode, false);
  }
});

test('--backend tfjs-node runs TensorFlow quietly with compress\'s thread count, or says how to set it up', async () => {
  const r = await select('tfjs-node', { COMPRESS_THREADS: '2' });
  if (tfjsNodeInstalled) {
    assert.deepEqual(r.info, { name: 'tfjs-node', tfBackend: 'tensorflow', threads: 2 });
    assert.equal(r.wasm, false);
    assert.equal(r.stderr, '', "TensorFlow's startup lines must not reach stderr");
  } else {
    assert.equal(r.error?.exitCode, 2);
    assert.match(r.error!.message, /backend 'tfjs-node' is not available on this machine \(@tensorflow\/tfjs-node is not installed\)/);
    assert.match(r.error!.hint ?? '', /npm run setup:native/);
  }
});

test('COMPRESS_BACKEND chooses what auto means; a bad value is a usage error naming the choices', async () => {
  const r = await select('auto', { COMPRESS_BACKEND: 'cpu' });
  assert.equal(r.info?.name, 'cpu');
  assert.deepEqual([r.wasm, r.tfjsNode], [false, false]);
  const bad = await select('auto', { COMPRESS_BACKEND: 'gpu' });
  assert.equal(bad.error?.exitCode, 2);
  assert.match(bad.error!.message, /COMPRESS_BACKEND must be one of auto, tfjs-node-gpu, tfjs-node, wasm, cpu \(got 'gpu'\)/);
});

test(`gptq on ${testBackend} writes the same bytes twice (same input, options, seed and threads)`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'compress-backend-'));
  try {
    const bytes: Buffer[] = [];
    for (const run of ['a', 'b']) {
      const out = join(dir, `${run}.onnx`);
      const r = await runCli(['gptq', 'fixtures/mlp/model.onnx', '--data', 'fixtures/mlp/data/calib_x.npy', '--samples', '64', '--bits', '4', '--backend', testBackend, '--threads', '2', '-o', out, '--quiet', '--no-report']);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /absl|oneDNN|cpu_feature_guard|^[IWE]\d{4} /m, "TensorFlow's log lines reached stderr");
      bytes.push(readFileSync(out));
    }
    assert.ok(bytes[0]!.equals(bytes[1]!), 'two identical gptq runs wrote different bytes');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
