/**
 * Round-to-nearest block quantization (quantizeToMatMulNBits) on every core: a small pool of worker
 * threads, each running the same kernel on weights handed over whole. A billion-parameter model is
 * quantized in about 1/cores of the time, and the results come back in the order the jobs were given, so
 * the output does not depend on which worker finished first (same bytes as quantizing in turn).
 *
 * The weight's buffer is transferred to the worker, not copied, when the caller says it may be (a weight
 * read from its external data file only for this); otherwise it is copied first.
 */
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

interface Pending {
  resolve: (r: NBitsResult) => void;
  reject: (e: Error) => void;
}

interface Lane {
  worker: Worker;
  busy: boolean;
  pending?: Pending;
}

/** Weights below this many elements are quantized in the calling thread (a worker round trip costs more). */
export const inlineElements = 1 << 18;

/**
 * A pool of `size` workers (default: the machine's cores, at most 4). `run` queues a job and resolves
 * with its result; `close` ends the workers. Jobs run in the order given, as many at once as there are
 * workers.
 */
export class NBitsPool {
  private readonly lanes: Lane[] = [];
  private readonly queue: { job: NBitsJob; pending: Pending }[] = [];
  private closed = false;

  constructor(readonly size = Math.max(1, Math.min(4, availableParallelism()))) {}

  private lane(): Lane | undefined {
    let free = this.lanes.find((l) => !l.busy);
    if (!free && this.lanes.length < this.size) {
      const worker = new Worker(new URL('./nbits-worker.js', import.meta.url));
      worker.unref();
      const lane: Lane = { worker, busy: false };
      worker.on('message', (m: { ok: true; result: NBitsResult } | { ok: false; error: string }) => {
        const p = lane.pending!;
        lane.pending = undefined;
        lane.busy = false;
        if (m.ok) p.resolve(m.result);
        else p.reject(new Error(m.error));
        this.pump();
      });
      worker.on('error', (e) => {
        lane.pending?.reject(e);
        lane.pending = undefined;
        lane.busy = false;
        this.lanes.splice(this.lanes.indexOf(lane), 1);
        this.pump();
      });
      this.lanes.push(lane);
      free = lane;
    }
    return free;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const lane = this.lane();
      if (!lane) return;
      const { job, pending } = this.queue.shift()!;
      lane.busy = true;
      lane.pending = pending;
      // Only a whole buffer can be moved; a view into a larger one is copied.
      const whole = job.src.byteOffset === 0 && job.src.byteLength === job.src.buffer.byteLength;
      const src = job.transfer && whole ? job.src : job.src.slice();
      const { transfer: _t, ...args } = job;
      lane.worker.postMessage({ ...args, src }, [src.buffer as ArrayBuffer]);
    }
  }

  /** Quantizes one weight (in this thread when it is small, else in a worker). */
  run(job: NBitsJob): Promise<NBitsResult> {
    if (this.closed) return Promise.reject(new Error('the quantization pool is closed'));
    if (job.src.length < inlineElements || this.size === 0) {
      try {
        return Promise.resolve(quantizeToMatMulNBits(job.src, job.dataType, job.K, job.N, job.blockSize, job.bits, job.symmetric, job.transposed));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ job, pending: { resolve, reject } });
      this.pump();
    });
  }

  /** Ends the workers (pending jobs fail). */
  async close(): Promise<void> {
    this.closed = true;
    for (const { pending } of this.queue.splice(0)) pending.reject(new Error('the quantization pool was closed'));
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
    this.lanes.length = 0;
  }
}
