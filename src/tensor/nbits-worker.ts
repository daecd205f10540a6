/**
 * The worker side of nbits-pool.ts: quantizes the weights it is sent, in the order sent, with
 * quantizeToMatMulNBits, sends the packed codes, scales and zero points back (their buffers moved, not
 * copied), and takes the job's bytes off the pool's shared in-flight counter, waking a caller waiting on it.
 * With a spill file, the packed codes are appended to it instead and only their place is sent back.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { quantizeToMatMulNBits } from './quant.js';
import type { NBitsMessage } from './nbits-pool.js';

/** Bytes written to this worker's spill file so far (its next offset). */
let spilledBytes = 0;

/** Appends `bytes` to the spill file (made on the first write) and returns where they went. */
function spill(path: string, bytes: Uint8Array): { path: string; offset: number; length: number } {
  const offset = spilledBytes;
  const fd = openSync(path, offset === 0 ? 'w' : 'r+');
  try {
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
  } finally {
    closeSync(fd);
  }
  spilledBytes += bytes.length;
  return { path, offset, length: bytes.length };
}

parentPort!.on('message', ({ id, job, inflight, kib, spill: spillPath }: NBitsMessage) => {
  try {
    const result = quantizeToMatMulNBits(job.src, job.dataType, job.K, job.N, job.blockSize, job.bits, job.symmetric, job.transposed);
    if (spillPath !== undefined) {
      result.spilled = spill(spillPath, result.weights.B);
      result.weights.B = new Uint8Array(0);
    }
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
