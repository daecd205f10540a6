/**
 * The backend a test run exercises. scripts/run-tests.mjs sets COMPRESS_BACKEND for the whole run: wasm
 * for `npm test` (which must never need tfjs-node), tfjs-node for `npm run test:native`; the executor's
 * `auto` then means that backend (src/runtime/backend.ts), in the test processes and in the CLIs they
 * start. Tests that name a backend take it from here instead of writing 'wasm'.
 */
import { autoBackend, type BackendName } from '../../src/runtime/backend.js';

type Concrete = Exclude<BackendName, 'auto'>;

/** The backend under test: COMPRESS_BACKEND, else wasm (a test file run directly). */
export const testBackend: Concrete = ((): Concrete => {
  const b = autoBackend();
  return b === 'auto' ? 'wasm' : b;
})();

/** True in the native run (tfjs-node or tfjs-node-gpu). */
export const nativeRun = testBackend === 'tfjs-node' || testBackend === 'tfjs-node-gpu';

/**
 * The backends the kernel tests compare: tfjs's pure-JS reference kernels (cpu) and wasm in `npm test`;
 * in another run, the backend under test alone (cpu and wasm ran already).
 */
export const kernelBackends: Concrete[] = testBackend === 'wasm' || testBackend === 'cpu' ? ['cpu', 'wasm'] : [testBackend];
