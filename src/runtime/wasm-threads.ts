/**
 * Multi-threaded wasm under Node.
 *
 * @tensorflow/tfjs-backend-wasm ships a threaded SIMD build (XNNPACK on a pthread pool) but never uses it
 * under Node (tfjs issue #3830), for three reasons this module works around, only while the backend
 * initialises, and puts everything back afterwards:
 *
 * 1. Its pthread workers are started from Blob URLs (the worker script, and the module's own source that
 *    each worker evaluates), which Node's worker_threads cannot load. Blobs made during initialisation
 *    remember their text; `URL.createObjectURL` writes it to a private temporary folder and returns the
 *    path, which worker_threads and the worker's `importScripts` (an fs read under Node) both accept.
 *    The module source refers to its bundle's `require$$n` aliases and `commonjsGlobal`, defined again
 *    at the top of the written file.
 * 2. The thread count is capped at half the logical cores (`emscripten_num_logical_cores() / 2`, meant
 *    for hyper-threaded desktops): one thread on a 2-core machine. `os.cpus()` answers twice the wanted
 *    count while the module starts, so the cap is the count asked for.
 * 3. Emscripten's workers hold Node's event loop open for ever (they are never unreferenced), so a
 *    script that used the backend would never exit. Once the backend is up (the workers have loaded),
 *    every worker it made is unreferenced; computing never needs the event loop, the main thread waits
 *    for its pthreads synchronously.
 *
 * Numerics do not change with the thread count: XNNPACK splits a product's output tiles among threads,
 * and each output is still reduced in the same order by one thread (tested: identical output bytes).
 */
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs-core';

const require = createRequire(import.meta.url);

/** What the bundle's module source expects in scope (its rollup aliases for node builtins). */
const MODULE_PRELUDE =
  "var commonjsGlobal = globalThis, require$$0 = require('fs'), require$$1 = require('path'), " +
  "require$$3 = require('perf_hooks'), require$$4 = require('os');\n";
const MODULE_MARKER = 'var WasmBackendModuleThreadedSimd';

/**
 * The tfjs-backend-wasm releases this shim was checked against (it relies on the bundle's internals: its
 * Blob URLs, rollup aliases and thread cap). A pthread worker that fails to load takes the process down
 * (Emscripten rethrows its error), so another release runs single-threaded rather than risk it.
 */
export const THREADED_WASM_VERSIONS = /^4\.22\./;

/** Whether the installed tfjs-backend-wasm is one the shim supports. */
export function threadedWasmSupported(): boolean {
  const wasm = require('@tensorflow/tfjs-backend-wasm') as { version_wasm?: string };
  return typeof wasm.version_wasm === 'string' && THREADED_WASM_VERSIONS.test(wasm.version_wasm);
}

interface TextBlob extends Blob {
  compressText?: string;
}

/**
 * Initialises tfjs's wasm backend on its threaded build with `threads` threads (>= 2) and resolves the
 * number of threads it runs (0 when it could not start: everything patched is restored and the caller
 * initialises the single-threaded build instead, with `tf.setBackend('wasm')` again).
 */
export async function setWasmBackendThreaded(tf: typeof TF, threads: number): Promise<number> {
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  const os = require('node:os') as typeof import('node:os');
  const workerThreads = require('node:worker_threads') as typeof import('node:worker_threads');
  const dir = mkdtempSync(join(tmpdir(), 'compress-wasm-'));
  let modulePath: string | undefined;
  let files = 0;

  const RealBlob = globalThis.Blob;
  const realCreateObjectURL = URL.createObjectURL;
  const realCpus = os.cpus;
  const RealWorker = workerThreads.Worker;
  const workers: InstanceType<typeof RealWorker>[] = [];

  globalThis.Blob = class extends RealBlob {
    compressText?: string;
    constructor(...args: ConstructorParameters<typeof RealBlob>) {
      super(...args);
      const parts = args[0] as unknown[] | undefined;
      if (!parts?.every((p) => typeof p === 'string')) return;
      this.compressText = (parts as string[]).join('');
      if (this.compressText.startsWith(MODULE_MARKER)) {
        // Posted to the workers as a Blob; they turn it back into a URL with their own createObjectURL.
        modulePath = join(dir, 'module.cjs');
        writeFileSync(modulePath, MODULE_PRELUDE + this.compressText);
      }
    }
  };
  URL.createObjectURL = (blob: Blob): string => {
    const text = (blob as TextBlob).compressText;
    if (text === undefined) return realCreateObjectURL(blob);
    const path = join(dir, `worker${files++}.cjs`);
    // The worker script: inside it, the module Blob it receives maps to the file written above.
    const prelude = `var commonjsGlobal = globalThis; URL.createObjectURL = () => ${JSON.stringify(modulePath ?? '')}; URL.revokeObjectURL = () => {};\n`;
    writeFileSync(path, prelude + text);
    return path;
  };
  os.cpus = () => {
    const cpus = realCpus();
    return Array.from({ length: 2 * threads }, (_, i) => cpus[i % cpus.length]!);
  };
  workerThreads.Worker = class extends RealWorker {
    constructor(...args: ConstructorParameters<typeof RealWorker>) {
      super(...args);
      workers.push(this);
    }
  };

  const restore = () => {
    globalThis.Blob = RealBlob;
    URL.createObjectURL = realCreateObjectURL;
    os.cpus = realCpus;
    workerThreads.Worker = RealWorker;
  };
  let ok = false;
  try {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
    ok = await tf.setBackend('wasm');
  } catch {
    ok = false;
  } finally {
    restore();
    for (const w of workers) w.unref();
    // The scripts stay while the process lives: a pthread beyond Emscripten's initial pool of 8 would
    // start a new worker from them.
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  if (ok) return wasm.getThreadsCount();
  for (const w of workers) void w.terminate();
  // tfjs keeps the backend's factory after a failed start: the next setBackend('wasm') starts it again.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setThreadsCount(1);
  return 0;
}
