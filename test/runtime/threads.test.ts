/**
 * The multi-threaded wasm backend (src/runtime/wasm-threads.ts). The backend is per process and starts
 * once, so each case runs in a child process with COMPRESS_THREADS or --threads set: the threaded build
 * must start with the asked thread count, give the same bytes as the single-threaded build (outputs of
 * the fixtures, and a whole gptq run whose Hessians are large matmuls), and let the process exit by itself.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../cli/helpers.js';
import { THREADED_WASM_VERSIONS, threadedWasmSupported } from '../../src/runtime/wasm-threads.js';
import { repoRoot } from '../helpers/repo.js';

const root = repoRoot();
const indexJs = fileURLToPath(new URL('../../src/index.js', import.meta.url));

/** A child script: runs the LM and CNN fixtures, prints the backend and a digest of the output bytes. */
const script = `
import { createHash } from 'node:crypto';
import { loadModel, Session } from ${JSON.stringify(indexJs)};
const out = {};
for (const name of ['lm', 'cnn']) {
  const model = await loadModel(${JSON.stringify(root)} + '/fixtures/' + name + '/model.onnx');
  const session = await Session.create(model, { backend: 'wasm' });
  out.backend = session.backend;
  const input = model.graph.inputs[0];
  const feeds = name === 'lm'
    ? { [input.name]: { type: 'int64', data: BigInt64Array.from({ length: 4 * 32 }, (_, i) => BigInt((i * 7) % 97)), dims: [4, 32] } }
    : { [input.name]: { type: 'float32', data: Float32Array.from({ length: 8 * 28 * 28 }, (_, i) => Math.sin(i) * 0.5 + 0.5), dims: [8, 1, 28, 28] } };
  const result = await session.run(feeds);
  const h = createHash('sha256');
  for (const t of Object.values(result)) h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  out[name] = h.digest('hex');
}
console.log(JSON.stringify(out));
`;

function runChild(threads: string): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, COMPRESS_THREADS: threads },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    // A process that never exits (the pthread workers holding the event loop) fails here, not by hanging.
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, 60_000);
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr, timedOut });
    });
  });
}

describe('multi-threaded wasm backend', () => {
  const dir = mkdtempSync(join(tmpdir(), 'compress-threads-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs threaded only on the tfjs-backend-wasm releases the shim was checked against', () => {
    assert.equal(threadedWasmSupported(), true, 'the installed release (package-lock) is a checked one');
    assert.ok(THREADED_WASM_VERSIONS.test('4.22.0'));
    assert.ok(!THREADED_WASM_VERSIONS.test('4.23.0') && !THREADED_WASM_VERSIONS.test('5.0.0'));
  });

  it('starts 2 threads, gives the single-threaded bytes and exits by itself', async () => {
    const one = await runChild('1');
    const two = await runChild('2');
    for (const r of [one, two]) {
      assert.equal(r.timedOut, false, 'the process did not exit within 60 s');
      assert.equal(r.code, 0, r.stderr);
    }
    const a = JSON.parse(one.stdout) as Record<string, unknown>;
    const b = JSON.parse(two.stdout) as Record<string, unknown>;
    assert.deepEqual(a.backend, { name: 'wasm', tfBackend: 'wasm', threads: 1 });
    assert.deepEqual(b.backend, { name: 'wasm', tfBackend: 'wasm', threads: 2 });
    assert.equal(b.lm, a.lm, 'LM outputs differ between 1 and 2 threads');
    assert.equal(b.cnn, a.cnn, 'CNN outputs differ between 1 and 2 threads');
  });

  it('gptq writes the same bytes with --threads 1 and --threads 2, and the report names the backend', async () => {
    const outs: Buffer[] = [];
    for (const threads of ['1', '2']) {
      const out = join(dir, `mlp.t${threads}.onnx`);
      const r = await runCli(['gptq', 'fixtures/mlp/model.onnx', '--data', 'fixtures/mlp/data/calib_x.npy', '--samples', '128', '--bits', '4', '--backend', 'wasm', '--threads', threads, '-o', out, '--quiet']);
      assert.equal(r.code, 0, r.stderr);
      outs.push(readFileSync(out));
      const report = JSON.parse(readFileSync(`${out}.report.json`, 'utf8')) as { backend?: string };
      assert.equal(report.backend, `wasm (${threads} thread${threads === '1' ? '' : 's'})`);
    }
    assert.ok(outs[0]!.equals(outs[1]!), 'gptq output bytes differ between 1 and 2 threads');
  });

  it('refuses a bad --threads and a bad COMPRESS_THREADS with one line, exit 2', async () => {
    const bad = await runCli(['quantize', 'fixtures/mlp/model.onnx', '--threads', '0', '-o', join(dir, 'x.onnx')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--threads/);
    const env = await runCli(['quantize', 'fixtures/mlp/model.onnx', '--bits', '4', '-o', join(dir, 'y.onnx')], { env: { COMPRESS_THREADS: 'many' } });
    assert.equal(env.code, 2, env.stderr);
    assert.match(env.stderr, /COMPRESS_THREADS/);
  });
});
