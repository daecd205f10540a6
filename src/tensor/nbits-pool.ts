/**
 * Round-to-nearest block quantization (quantizeToMatMulNBits) on every core: a small pool of worker
 * threads, each running the same kernel on weights handed over whole. A billion-parameter model is
 * quantized in about 1/cores of the time, and each result belongs to its job, so the output does not
 * depend on which worker finished first (same bytes as quantizing in turn).
 *
 * Jobs go to the workers as they are given (round robin), not when the event loop next turns: a caller
 * busy in synchronous work (the executor running a reference pass, handing each weight over as it is
 * done with it) keeps every core busy. Memory stays bounded all the same: `run` blocks the caller
 * (Atomics.wait on a counter the workers share) while more than `maxBytesInFlight` of weights wait.
 *
 * The weight's buffer is transferred to the worker, not copied, when the caller says it may be (a weight
 * read from its external data file only for this); otherwise it is copied first.
 *
 * With a spill folder, each worker appends the packed codes of its results to a file of its own there and
 * sends back only where they are (NBitsResult.spilled), with the scales and zero points: a model's
 * quantized weights then wait for the output on disk, not in memory (quantize's streamed reference run
 * hands over every weight long before the output is written). The caller removes the folder.
 */
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { quantizeToMatMulNBits, type NBitsResult } from './quant.js';

/** One job: quantizeToMatMulNBits' arguments. */
export interface NBitsJob {
  src: Float32Array | Uint16Array;
  dataType: 'float32' | 'float16' | 'bfloat16';
  K: number;
  N: number;
  blockSize: number;
  bits: 4 | 8;
  symmetric: boolean;
  transposed: boolean;
  /** The caller gives up `src` (its buffer is moved to the worker and unusable afterwards). */
  transfer: boolean;
}

/** What a worker is sent: the job, its id, and the shared counter of bytes in flight. */
export interface NBitsMessage {
  id: number;
  job: Omit<NBitsJob, 'transfer'>;
  /** Int32Array view of the pool's shared counter (in KiB) that the worker decrements when done. */
  inflight: Int32Array;
  kib: number;
  /** The worker's spill file, when the pool spills codes to disk. */
  spill?: string;
}

/** Weights below this many elements are quantized in the calling thread (a worker round trip costs more). */
export const inlineElements = 1 << 18;

/**
 * A pool of `size` workers (default: the machine's cores, at most 4). `run` hands a job to the next
 * worker and resolves with its result; `close` ends the workers.
 */
export class NBitsPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (r: NBitsResult) => void; reject: (e: Error) => void }>();
  private readonly inflight = new Int32Array(new SharedArrayBuffer(4));
  private next = 0;
  private ids = 0;
  private failure: Error | undefined;
  private closed = false;

  constructor(
    readonly size = Math.max(1, Math.min(4, availableParallelism())),
    /** Bytes of weights handed over but not yet quantized beyond which `run` waits. */
    readonly maxBytesInFlight = 256 * 2 ** 20,
    /** An existing folder where the workers keep the packed codes (see the file comment), or none. */
    readonly spillDir?: string,
  ) {}

  /** The index of the worker the next job goes to (started when fewer than `size` run). */
  private nextWorker(): number {
    if (this.workers.length < this.size) {
      const w = new Worker(new URL('./nbits-worker.js', import.meta.url));
      w.unref();
      w.on('message', (m: { id: number; ok: true; result: NBitsResult } | { id: number; ok: false; error: string }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (!p) return;
        if (m.ok) p.resolve(m.result);
        else p.reject(new Error(m.error));
      });
      w.on('error', (e) => {
        this.failure = e;
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
        // Nothing will decrement the counter for the lost jobs: stop waiting on it.
        Atomics.store(this.inflight, 0, 0);
        Atomics.notify(this.inflight, 0);
      });
      this.workers.push(w);
      return this.workers.length - 1;
    }
    const i = this.next % this.workers.length;
    this.next++;
    return i;
  }

  /** Quantizes one weight (in this thread when it is small, else in a worker). */
  run(job: NBitsJob): Promise<NBitsResult> {
    if (this.closed) return Promise.reject(new Error('the quantization pool is closed'));
    if (this.failure) return Promise.reject(this.failure);
    if (job.src.length < inlineElements) {
      try {
        return Promise.resolve(quantizeToMatMulNBits(job.src, job.dataType, job.K, job.N, job.blockSize, job.bits, job.symmetric, job.transposed));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    }
    const kib = Math.ceil(job.src.byteLength / 1024);
    // Backpressure without the event loop: wait while too much is handed over and not yet done.
    const limit = Math.ceil(this.maxBytesInFlight / 1024);
    for (let now = Atomics.load(this.inflight, 0); now > 0 && now + kib > limit; now = Atomics.load(this.inflight, 0)) {
      Atomics.wait(this.inflight, 0, now, 1000);
    }
    Atomics.add(this.inflight, 0, kib);
    // Only a whole buffer can be moved; a view into a larger one is copied.
    const whole = job.src.byteOffset === 0 && job.src.byteLength === job.src.buffer.byteLength;
    const src = job.transfer && whole ? job.src : job.src.slice();
    const { transfer: _t, ...args } = job;
    const id = this.ids++;
    const i = this.nextWorker();
    const spill = this.spillDir === undefined ? undefined : join(this.spillDir, `codes-${i + 1}.bin`);
    const message: NBitsMessage = { id, job: { ...args, src }, inflight: this.inflight, kib, spill };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[i]!.postMessage(message, [src.buffer as ArrayBuffer]);
    });
  }

  /** Ends the workers (pending jobs fail). */
  async close(): Promise<void> {
    this.closed = true;
    const err = new Error('the quantization pool was closed');
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
