#!/usr/bin/env node
// Runs the compiled tests with node's test runner. `npm test` runs the fast suite; `--slow` runs only the
// *.slow.test.js files (real-model runs that take minutes).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const slow = process.argv.includes('--slow');
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
const env = { ...process.env, COMPRESS_THREADS: process.env.COMPRESS_THREADS ?? '1' };
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
