/**
 * The worker side of nbits-pool.ts: quantizes the weights it is sent with quantizeToMatMulNBits and sends
 * the packed codes, scales and zero points back (their buffers moved, not copied).
 */
import { parentPort } from 'node:worker_threads';
import { quantizeToMatMulNBits } from './quant.js';
import type { NBitsJob } from './nbits-pool.js';

parentPort!.on('message', (job: Omit<NBitsJob, 'transfer'>) => {
  try {
    const result = quantizeToMatMulNBits(job.src, job.dataType, job.K, job.N, job.blockSize, job.bits, job.symmetric, job.transposed);
    const w = result.weights;
    const buffers = [w.B.buffer, w.scales.buffer, ...(w.zeroPoints ? [w.zeroPoints.buffer] : [])] as ArrayBuffer[];
    parentPort!.postMessage({ ok: true, result }, buffers);
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) });
  }
});
