/**
 * The Hessian of the layer-wise reconstruction loss ||W X - Q X||^2 (GPTQ, Frantar et al. 2022,
 * arXiv 2210.17323, section 3; SparseGPT, Frantar & Alistarh 2023): H = 2 X^T X / n for the inputs X
 * [n tokens, K] of a MatMul/Gemm. Accumulated in float32 on tfjs (one [tokens, K]^T [tokens, K] matmul
 * per batch), so the calibration set never has to be held: memory is K x K per distinct layer input.
 *
 * Three verbs (STYLE.md habit 2): `createHessian(K)`, `acc.add(x, layout)` for each batch, then
 * `acc.hessian()` (or `acc.gram()` for the raw sum X^T X). Layers that read the same activation (q, k and
 * v projections) share one accumulator: the driver keys them by the input value.
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../../runtime/backend.js';
import { nodeConvGeometry } from '../../runtime/util/intconv.js';
import type { RTensor } from '../../runtime/value.js';
import { im2colRows, patchSize, type PatchGeometry } from '../../tensor/im2col.js';
import { GramSum, rowsOf } from '../../tensor/linalg.js';
import type { ActivationAccumulator, ActivationLayout, ConvLayout } from './accumulator.js';

/** Patch values per upload of a Conv's rows (16 MB of float32). */
const patchChunk = 4 * 1024 * 1024;
/** Groups of at most this many inputs (depthwise convs: kh kw) are summed on the host in float64. */
const hostGroupSize = 32;

/**
 * Streaming H = 2 X^T X / n. For a Conv's input (layout.conv), X is the patch matrix (tensor/im2col.ts),
 * one Hessian per group: `hessian()` is group 0's, `groupHessians()` all of them.
 */
export class HessianAccumulator implements ActivationAccumulator {
  readonly K: number;
  private _samples = 0;
  /** One sum per group (one unless a grouped Conv feeds it); host sums for small depthwise groups. */
  private sums: GramSum[];
  private hostSums: Float64Array[] | null = null;

  constructor(K: number) {
    if (!Number.isInteger(K) || K < 1) throw new RangeError(`a Hessian needs a positive input length, got ${K}`);
    this.K = K;
    this.sums = [new GramSum(K)];
  }

  get samples(): number {
    return this._samples;
  }

  add(x: RTensor, layout: ActivationLayout): void {
    if (layout.K !== this.K) throw new RangeError(`Hessian of size ${this.K} fed activations with K = ${layout.K}`);
    if (layout.conv) return this.addPatches(x, layout.conv);
    const t = x.tf;
    if (t.size % this.K !== 0) throw new ModelError(`an activation of shape [${x.dims.join(',')}] does not hold rows of ${this.K} inputs`);
    this.sums[0]!.add(t, layout.transposed);
    this._samples += rowsOf(t, this.K);
  }

  /** Adds the patches of a Conv input [N, C, *spatial] (1-D or 2-D), group by group. */
  private addPatches(x: RTensor, conv: ConvLayout): void {
    const { geometry: g, chunks } = convPatches(x, conv, this.K);
    const groups = g.group;
    const K = this.K;
    if (this.sums.length !== groups && this.hostSums === null) {
      for (const s of this.sums) s.dispose();
      if (groups > 1 && K <= hostGroupSize) {
        this.sums = [];
        this.hostSums = Array.from({ length: groups }, () => new Float64Array(K * K));
      } else {
        this.sums = Array.from({ length: groups }, () => new GramSum(K));
      }
    }
    for (const { group, rows, count } of chunks) {
      if (this.hostSums) {
        const acc = this.hostSums[group]!;
        for (let r = 0; r < count; r++) {
          const o = r * K;
          for (let i = 0; i < K; i++) {
            const v = rows[o + i]!;
            if (v === 0) continue;
            const row = i * K;
            for (let j = i; j < K; j++) acc[row + j]! += v * rows[o + j]!;
          }
        }
      } else {
        const t = tf.tensor2d(rows, [count, K]);
        this.sums[group]!.add(t);
        t.dispose();
      }
    }
    this._samples += x.dims[0]! * g.out[0] * g.out[1];
  }

  /** The number of groups (1 unless a grouped Conv fed it). */
  get groups(): number {
    return this.hostSums ? this.hostSums.length : this.sums.length;
  }

  /** The raw Gram matrix X^T X ([K, K] row-major, float32) of group `g`; zeros before any batch. */
  gram(g = 0): Float32Array {
    if (!this.hostSums) return this.sums[g]!.toFloat32();
    const K = this.K;
    const src = this.hostSums[g]!;
    const out = new Float32Array(K * K);
    for (let i = 0; i < K; i++) {
      for (let j = i; j < K; j++) {
        out[i * K + j] = src[i * K + j]!;
        out[j * K + i] = src[i * K + j]!;
      }
    }
    return out;
  }

  /** H = 2 X^T X / n ([K, K] row-major, float32) of group `g`, n the rows seen; zeros before any batch. */
  hessian(g = 0): Float32Array {
    const h = this.gram(g);
    if (this._samples === 0) return h;
    const f = 2 / this._samples;
    for (let i = 0; i < h.length; i++) h[i]! *= f;
    return h;
  }

  /** The Hessian of every group, in group order. */
  groupHessians(): Float32Array[] {
    return Array.from({ length: this.groups }, (_, g) => this.hessian(g));
  }

  dispose(): void {
    for (const s of this.sums) s.dispose();
  }
}

/** The patch geometry of a Conv input of shape `dims` (1-D convs as 2-D of height 1). */
export function patchGeometry(dims: readonly number[], conv: ConvLayout): PatchGeometry {
  const r = dims.length - 2;
  if (r !== 1 && r !== 2) throw new ModelError(`${conv.node.describe()}: patches of ${r}-D convolutions are not supported (1-D and 2-D are)`);
  const geom = nodeConvGeometry(conv.node, dims.slice(2), conv.weightDims.slice(2));
  const two = <T>(v: T[], one: T): [T, T] => (r === 1 ? [one, v[0]!] : [v[0]!, v[1]!]);
  return {
    channels: dims[1]!,
    group: geom.group,
    height: r === 1 ? 1 : dims[2]!,
    width: dims[dims.length - 1]!,
    kernel: two(geom.kernel, 1),
    strides: two(geom.strides, 1),
    dilations: two(geom.dilations, 1),
    pads: r === 1 ? [0, geom.pads[0]!, 0, geom.pads[1]!] : [geom.pads[0]!, geom.pads[1]!, geom.pads[2]!, geom.pads[3]!],
    out: two(geom.out, 1),
  };
}

/** One chunk of a Conv input's patch rows: `count` rows of K values of group `group` (a reused buffer). */
export interface PatchChunk {
  group: number;
  rows: Float32Array;
  count: number;
}

/**
 * The patch rows (tensor/im2col.ts) of a Conv input [N, C, *spatial], group by group, in chunks of at
 * most `patchChunk` values written into one reused buffer (read each chunk before taking the next), and
 * their geometry. Throws ModelError when the patches do not hold `K` inputs.
 */
export function convPatches(x: RTensor, conv: ConvLayout, K: number): { geometry: PatchGeometry; chunks: Iterable<PatchChunk> } {
  const g = patchGeometry(x.dims, conv);
  if (patchSize(g) !== K) throw new ModelError(`${conv.node.describe()}: patches of ${patchSize(g)} inputs fed a statistic of size ${K}`);
  const channelsLast = x.channelsLast;
  const data = channelsLast ? (x.nhwc().dataSync() as Float32Array) : x.float32();
  const n = x.dims[0]!;
  const pixels = g.out[0] * g.out[1];
  const perChunk = Math.max(1, Math.floor(patchChunk / K));
  const buf = new Float32Array(Math.min(perChunk, pixels) * K);
  function* chunks(): Generator<PatchChunk> {
    for (let gi = 0; gi < g.group; gi++) {
      for (let s = 0; s < n; s++) {
        for (let p0 = 0; p0 < pixels; p0 += perChunk) {
          const p1 = Math.min(pixels, p0 + perChunk);
          const rows = buf.subarray(0, (p1 - p0) * K);
          im2colRows(data, channelsLast, g, gi, s, p0, p1, rows);
          yield { group: gi, rows, count: p1 - p0 };
        }
      }
    }
  }
  return { geometry: g, chunks: chunks() };
}

/** Creates an empty Hessian accumulator for a layer input of length K. */
export function createHessian(K: number): HessianAccumulator {
  return new HessianAccumulator(K);
}
