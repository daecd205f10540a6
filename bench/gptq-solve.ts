/**
 * `node dist/bench/gptq-solve.js --backend wasm|tfjs-node [--shapes 2048x2048,5632x2048]`: where the time
 * of one GPTQ layer solve goes (issue 14 item 5), on TinyLlama's layer shapes with a realistic Hessian
 * (correlated inputs, 4096 tokens): the factor (dead inputs, dampening, U = chol(H^-1) upper), the blocked
 * solve, and the error measurement (GPTQ and RTN on 256 channels), each in wall and CPU seconds, against
 * the arithmetic floor of each (2K^3/3 for the factor, K^2 N for the solve, 2 K^2 x 768 for the errors) at
 * the matmul rate measured in the same run. 4 bits, group 128, asymmetric, block 128, as `compress gptq`.
 */
import { loadavg } from 'node:os';
import { errorSums, gptqFactor, gptqSolve, type GptqParams } from '../src/passes/gptq/solve.js';
import { initBackend, tf, type BackendName } from '../src/runtime/backend.js';
import { mulberry32 } from '../src/core/random.js';
import { correlatedInputs } from '../test/passes/gptq/helpers.js';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
function clocked<T>(f: () => T): { value: T; wall: number; cpu: number } {
  const t0 = performance.now();
  const c0 = cpuSeconds();
  const value = f();
  return { value, wall: (performance.now() - t0) / 1000, cpu: cpuSeconds() - c0 };
}

/** FLOP per CPU second of [2048 x 2048] x [2048 x 1024] products, timed for about 2 s. */
function matmulRatePerCpu(): number {
  const a = tf.randomNormal([2048, 2048]);
  const b = tf.randomNormal([2048, 1024]);
  tf.matMul(a, b).dispose();
  let n = 0;
  const c = clocked(() => {
    const t0 = performance.now();
    while (performance.now() - t0 < 2000) {
      tf.matMul(a, b).dataSync();
      n++;
    }
  });
  a.dispose();
  b.dispose();
  return (n * 2 * 2048 * 2048 * 1024) / c.cpu;
}

async function main(): Promise<void> {
  await initBackend(arg('--backend', 'wasm') as BackendName);
  const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');
  const p: GptqParams = { bits: 4, symmetric: false, groupSize: 128, actOrder: argv.includes('--act-order'), damp: 0.01, blockSize: Number(arg('--block-size', '128')) };
  const rate0 = matmulRatePerCpu();
  console.log(`backend ${tf.getBackend()}; matmul ${(rate0 / 1e9).toFixed(1)} GFLOP per CPU s; load average ${load()}`);
  for (const shape of arg('--shapes', '2048x2048,5632x2048').split(',')) {
    const [K, N] = shape.split('x').map(Number) as [number, number];
    const tokens = 4096;
    const x = tf.tensor2d(correlatedInputs(tokens, K, K), [tokens, K]);
    const h = tf.tidy(() => tf.mul(tf.matMul(tf.transpose(x), x), 2 / tokens)).dataSync() as Float32Array;
    x.dispose();
    const rnd = mulberry32(7);
    const w = Float32Array.from({ length: K * N }, () => (rnd() - 0.5) * 0.1);
    const f = clocked(() => gptqFactor(h, K, p));
    const s = clocked(() => gptqSolve(w, K, N, f.value, p));
    const cols = Array.from({ length: Math.min(N, 256) }, (_, i) => Math.floor((i * N) / Math.min(N, 256)));
    const e = clocked(() => errorSums(w, s.value.dequantized, h, K, N, cols, p));
    const rate = (rate0 + matmulRatePerCpu()) / 2;
    const row = (name: string, c: { wall: number; cpu: number }, flop: number) =>
      `${name} ${c.wall.toFixed(2)} s wall, ${c.cpu.toFixed(2)} CPU s against ${(flop / rate).toFixed(2)} (x${(c.cpu / (flop / rate)).toFixed(1)})`;
    console.log(
      `W ${K}x${N}: ${row('factor', f, (2 * K ** 3) / 3)}; ${row('solve', s, K * K * N)}; ${row('errors', e, 2 * K * K * 3 * cols.length)}; ` +
        `error ${(e.value.gptq / e.value.den).toExponential(4)} (RTN ${(e.value.rtn / e.value.den).toExponential(4)}); load average ${load()}`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
