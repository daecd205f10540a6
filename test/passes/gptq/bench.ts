/**
 * GPTQ speed benchmark (docs/gptq.md): the Hessian of 128 x 512 calibration tokens for a K = 768 input,
 * then GPTQ on a 768 x 3072 weight (K = 768 inputs, N = 3072 outputs: an MLP up-projection of a
 * 125M-parameter decoder) and on its 3072 x 768 transpose (the down-projection, K = 3072).
 * Run: node .build/<dir>/test/passes/gptq/bench.js [tokens for K = 768] [tokens for K = 3072]
 * Accumulating X^T X is linear in the tokens, so the K = 3072 Hessian may be measured on fewer tokens and
 * scaled (the output says so). Wall and CPU seconds are both printed: on a shared machine they differ.
 */
import { DataType } from '../../../src/core/dtype.js';
import { createHessian } from '../../../src/calibration/accumulators/index.js';
import { gptqQuantize } from '../../../src/passes/gptq/solve.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { RTensor } from '../../../src/runtime/value.js';
import { correlatedInputs } from './helpers.js';

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.1);
}

async function main(): Promise<void> {
  const info = await initBackend('auto');
  const full = 128 * 512;
  const batch = 512;
  const out = (line: string) => process.stdout.write(line + '\n');
  out(`backend ${info.name}; batches of ${batch} tokens; target ${full} tokens`);
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  for (const [K, N, tokens] of [[768, 3072, Number(process.argv[2] ?? full)], [3072, 768, Number(process.argv[3] ?? full / 8)]] as const) {
    const x = correlatedInputs(batch, K, K);
    const acc = createHessian(K);
    const t0 = performance.now();
    const c0 = cpu();
    for (let b = 0; b < tokens / batch; b++) {
      const t = RTensor.fromHost(DataType.FLOAT, [batch, K], x);
      acc.add(t, { K, transposed: false });
      t.dispose();
    }
    const h = acc.hessian();
    const tAcc = (performance.now() - t0) / 1000;
    const cAcc = cpu() - c0;
    acc.dispose();
    const w = rand(K * N, 7);
    const t1 = performance.now();
    const c1 = cpu();
    const r = gptqQuantize(w, K, N, h, { bits: 4, symmetric: false, groupSize: 128, actOrder: false, damp: 0.01, blockSize: 128 });
    const tSolve = (performance.now() - t1) / 1000;
    const cSolve = cpu() - c1;
    const scale = full / tokens;
    out(
      `W ${K}x${N}: Hessian of ${tokens} tokens ${tAcc.toFixed(2)} s wall / ${cAcc.toFixed(2)} s CPU` +
        (scale !== 1 ? ` (x${scale} for ${full} tokens: ${(tAcc * scale).toFixed(1)} s wall / ${(cAcc * scale).toFixed(1)} s CPU)` : '') +
        `; GPTQ solve ${tSolve.toFixed(2)} s wall / ${cSolve.toFixed(2)} s CPU (error ${r.error.toExponential(2)}, RTN ${r.rtnError.toExponential(2)})`,
    );
  }
}

await main();
