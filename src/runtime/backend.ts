/**
 * TensorFlow.js backend selection. `auto` tries @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node
 * (optional peers, picked up only when installed and loadable: `npm run setup:native`, docs/backends.md),
 * then the wasm backend, then the pure-JS cpu backend, and stops at the first that loads; an explicit
 * name loads that backend's package and no other. Everything else in runtime/ uses `tf` from here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { availableParallelism } from 'node:os';
import { UsageError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';

export { tf };

export const backendNames = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof backendNames)[number];

/** What a session runs on: our name for it, tfjs's registered backend name and, for wasm, its threads. */
export interface BackendInfo {
  name: Exclude<BackendName, 'auto'>;
  tfBackend: string;
  threads?: number;
}

let current: BackendInfo | undefined;
let gradientsLoaded = false;
let wasmThreads: number | undefined;

/**
 * Threads of the wasm backend, and of TensorFlow's intra-op pool on tfjs-node, when the backend starts
 * (neither can change afterwards): `n`, or by default the COMPRESS_THREADS environment variable, else
 * every core the process may use. 1 runs wasm's single-threaded build.
 */
export function setWasmThreads(n: number | undefined): void {
  if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw new UsageError(`threads must be a positive integer, got ${n}`);
  wasmThreads = n;
}

/** The wasm thread count initBackend would use now. */
export function wasmThreadCount(): number {
  if (wasmThreads !== undefined) return wasmThreads;
  const env = process.env.COMPRESS_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`COMPRESS_THREADS must be a positive integer, got '${env}'`);
    return n;
  }
  return Math.max(1, availableParallelism());
}

/**
 * tfjs-core alone registers no gradients; the @tensorflow/tfjs bundle does, into tfjs's global gradient
 * registry (shared with our tfjs-core). Its ESM sources cannot be imported piecemeal under Node, so load
 * the bundle once, when a backend is first initialised (never for `--help`).
 */
async function loadGradients(): Promise<void> {
  if (gradientsLoaded) return;
  tf.env().set('PROD', true); // keeps the bundle's "install tfjs-node" banner quiet
  await import('@tensorflow/tfjs');
  registerZeroGradients();
  gradientsLoaded = true;
}

/**
 * Comparisons and logical ops have no gradient in tfjs; a model's own Where(Greater(x), ...) then breaks
 * training although no gradient flows through the condition. Register zero gradients for them once.
 */
function registerZeroGradients(): void {
  const binary = ['Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr', 'LogicalXor'];
  const unary = ['LogicalNot', 'IsNan', 'IsInf', 'IsFinite', 'Sign', 'Floor', 'Ceil', 'Round'];
  for (const kernelName of binary) {
    if (tf.getGradient(kernelName)) continue;
    tf.registerGradient({ kernelName, inputsToSave: ['a', 'b'], gradFunc: (_dy, saved) => ({ a: () => tf.zerosLike(saved[0]!), b: () => tf.zerosLike(saved[1]!) }) });
  }
  for (const kernelName of unary) {
    if (tf.getGradient(kernelName)) continue;
    tf.registerGradient({ kernelName, inputsToSave: ['x'], gradFunc: (_dy, saved) => ({ x: () => tf.zerosLike(saved[0]!) }) });
  }
}

/**
 * TensorFlow's defaults for a quiet load, unless the user chose otherwise: C++ log lines below errors off
 * (TF_CPP_MIN_LOG_LEVEL=2), and oneDNN's custom ops off (TF_ENABLE_ONEDNN_OPTS=0), whose notice
 * TensorFlow prints at load whatever the log level (and which is the faster setting for products on our
 * machines: docs/backends.md). TensorFlow reads both when its library loads, so they are set before.
 */
export function quietTensorflowEnv(env: NodeJS.ProcessEnv = process.env): void {
  env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  env.TF_ENABLE_ONEDNN_OPTS ??= '0';
}

/**
 * TensorFlow's intra-op threads (TF_NUM_INTRAOP_THREADS, read when its context is made): the user's
 * value, else compress's thread count (--threads, COMPRESS_THREADS, every core).
 */
function tensorflowThreads(env: NodeJS.ProcessEnv = process.env): number {
  env.TF_NUM_INTRAOP_THREADS ??= String(wasmThreadCount());
  const n = Number(env.TF_NUM_INTRAOP_THREADS);
  return Number.isInteger(n) && n > 0 ? n : availableParallelism();
}

/** Loads a tfjs-node package and selects its backend; returns why it could not (undefined: it did). */
async function tryNode(pkg: 'tfjs-node-gpu' | 'tfjs-node', logger: Logger): Promise<string | undefined> {
  let why: string | undefined;
  try {
    quietTensorflowEnv();
    // Optional peers: the specifier is computed so bundlers and tsc do not require them to exist.
    const spec = `@tensorflow/${pkg}`;
    const mod = (await import(spec)) as { version?: Record<string, string> };
    if (!tf.findBackend('tensorflow')) why = `@tensorflow/${pkg} loaded but registered no 'tensorflow' backend`;
    else if (!(await tf.setBackend('tensorflow'))) why = `@tensorflow/${pkg}'s backend did not initialise`;
    else {
      const { prepareTensorflow } = await import('./tensorflow.js');
      prepareTensorflow(tf, mod.version?.[pkg] ?? mod.version?.['tfjs-node'], logger);
    }
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0]!;
    why = /Cannot find (package|module) '@tensorflow\/tfjs-node/.test(msg) ? `@tensorflow/${pkg} is not installed` : msg;
  }
  if (why) logger.debug(`backend ${pkg} not available: ${why}`);
  return why;
}

async function tryWasm(logger: Logger): Promise<number> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const threads = wasmThreadCount();
    if (threads > 1) {
      const { setWasmBackendThreaded, threadedWasmSupported } = await import('./wasm-threads.js');
      if (threadedWasmSupported()) {
        const got = await setWasmBackendThreaded(tf, threads);
        if (got > 0) return got;
        logger.warn(`the wasm backend could not start ${threads} threads; running single-threaded`);
      } else {
        logger.warn(`@tensorflow/tfjs-backend-wasm ${wasm.version_wasm} is not a release compress runs multi-threaded (4.22.x); running single-threaded`);
      }
    }
    return (await tf.setBackend('wasm')) ? wasm.getThreadsCount() : 0;
  } catch (e) {
    logger.debug(`wasm backend not available: ${(e as Error).message.split('\n')[0]}`);
    return 0;
  }
}

async function tryCpu(): Promise<boolean> {
  await import('@tensorflow/tfjs-backend-cpu');
  return tf.setBackend('cpu');
}

/**
 * What `auto` means in this process: the COMPRESS_BACKEND environment variable when it names a backend
 * (a machine's default, and how the test runner chooses the backend of a whole run), else `auto`, the
 * first of tfjs-node-gpu, tfjs-node, wasm and cpu that loads.
 */
export function autoBackend(env: NodeJS.ProcessEnv = process.env): BackendName {
  const v = env.COMPRESS_BACKEND;
  if (v === undefined || v === '') return 'auto';
  if (!(backendNames as readonly string[]).includes(v)) throw new UsageError(`COMPRESS_BACKEND must be one of ${backendNames.join(', ')} (got '${v}')`);
  return v as BackendName;
}

/**
 * Selects and initialises a backend once per process (tfjs has one global backend). Asking again for
 * the same or `auto` returns the current one; asking for another switches.
 */
export async function initBackend(name: BackendName = 'auto', logger: Logger = silentLogger): Promise<BackendInfo> {
  if (!(backendNames as readonly string[]).includes(name)) {
    throw new UsageError(`unknown backend '${name}'`, `use one of: ${backendNames.join(', ')}`);
  }
  await loadGradients();
  if (current && (name === 'auto' || name === current.name)) return current;
  if (name === 'auto') name = autoBackend();
  const order: Exclude<BackendName, 'auto'>[] = name === 'auto' ? ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] : [name];
  for (const b of order) {
    let ok = false;
    let threads: number | undefined;
    let why: string | undefined;
    if (b === 'tfjs-node-gpu' || b === 'tfjs-node') {
      threads = tensorflowThreads();
      ok = (why = await tryNode(b, logger)) === undefined;
    }
    else if (b === 'wasm') ok = (threads = await tryWasm(logger)) > 0;
    else ok = await tryCpu();
    if (ok) {
      await tf.ready();
      // Kernels here never rely on tfjs's debug checks; keep its production mode quiet and fast.
      tf.env().set('PROD', true);
      current = { name: b, tfBackend: tf.getBackend(), ...(threads !== undefined ? { threads } : {}) };
      logger.debug(`tfjs backend: ${describeBackend(current)}, tfjs '${current.tfBackend}'`);
      return current;
    }
    if (name !== 'auto') {
      throw new UsageError(`backend '${b}' is not available on this machine${why ? ` (${why})` : ''}`, b === 'tfjs-node' ? 'set it up with npm run setup:native (docs/backends.md), or use --backend auto' : b === 'tfjs-node-gpu' ? 'install @tensorflow/tfjs-node-gpu (docs/backends.md), or use --backend auto' : undefined);
    }
  }
  throw new UsageError('no TensorFlow.js backend could be initialised');
}

/** How reports and logs name a backend: `wasm (2 threads)`, `tfjs-node`. */
export function describeBackend(info: BackendInfo): string {
  return info.threads !== undefined ? `${info.name} (${info.threads} thread${info.threads > 1 ? 's' : ''})` : info.name;
}

/** The backend chosen by initBackend, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}
