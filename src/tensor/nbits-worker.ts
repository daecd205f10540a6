/**
 * The worker side of nbits-pool.ts: quantizes the weights it is sent, in the order sent, with
 * quantizeToMatMulNBits, sends the packed codes, scales and zero points back (their buffers moved, not
 * copied), and takes the job's bytes off the pool's shared in-flight counter, waking a caller waiting on it.
 */
import { parentPort } from 'node:worker_threads';
import { quantizeToMatMulNBits } from './quant.js';
import type { NBitsMessage } from './nbits-pool.js';

parentPort!.on('message', ({ id, job, inflight, kib }: NBitsMessage) => {
  try {
    const result = quantizeToMatMulNBits(job.src, job.dataType, job.K, job.N, job.blockSize, job.bits, job.symmetric, job.transposed);
    const w = result.weights;
    const buffers = [w.B.buffer, w.scales.buffer, ...(w.zeroPoints ? [w.zeroPoints.buffer] : [])] as ArrayBuffer[];
    parentPort!.postMessage({ id, ok: true, result }, buffers);
  } catch (e) {
    parentPort!.postMessage({ id, ok: false, error: e instanceof Error ? e.message : String(e) });
  } finally {
    Atomics.sub(inflight, 0, kib);
    Atomics.notify(inflight, 0);
  }
});
