#!/usr/bin/env node
// Runs the compiled tests with node's test runner. `npm test` runs the fast suite; `--slow` runs only the
// *.slow.test.js files (real-model runs that take minutes). `--backend <name>` runs them with the
// executor on that backend (COMPRESS_BACKEND, which the executor's `auto` and test/helpers/backend.ts
// follow): wasm by default; `npm run test:native` is `--backend tfjs-node`, which must load (this fails,
// never skips, when it does not: set it up with `npm run setup:native`).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({ options: { slow: { type: 'boolean', default: false }, backend: { type: 'string' } } });
const slow = opts.slow;
const backend = opts.backend ?? process.env.COMPRESS_BACKEND ?? 'wasm';
const root = new URL('../dist/test/', import.meta.url).pathname;

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.js') && name.endsWith('.slow.test.js') === slow) out.push(p);
  }
  return out;
}

const files = collect(root);
if (files.length === 0) {
  console.error(`run-tests: no ${slow ? 'slow ' : ''}test files under ${root}`);
  process.exit(1);
}
// Two test files run at once on a 2-core machine: one wasm thread each (a test that needs threads sets
// COMPRESS_THREADS itself). Oversubscribed pthread pools spin and slow everything down.
const env = { ...process.env, COMPRESS_THREADS: process.env.COMPRESS_THREADS ?? '1', COMPRESS_BACKEND: backend };

if (backend !== 'wasm') {
  // The backend must load here, before any test runs: a run that quietly fell back would prove nothing.
  const backendJs = new URL('../dist/src/runtime/backend.js', import.meta.url).href;
  const code = `const b = await import(${JSON.stringify(backendJs)}); const i = await b.initBackend(${JSON.stringify(backend)}); console.log(b.describeBackend(i));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env, encoding: 'utf8' });
  if (r.status !== 0 || r.stderr.trim() !== '') {
    console.error(`run-tests: the ${backend} backend does not load${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-1)[0]}` : ''}`);
    if (backend.startsWith('tfjs-node')) console.error('run-tests: set it up with `npm run setup:native` (docs/backends.md)');
    process.exit(1);
  }
  console.error(`run-tests: ${files.length} test files on the ${r.stdout.trim()} backend`);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
