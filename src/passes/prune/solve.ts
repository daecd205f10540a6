/**
 * The maths of pruning, as pure functions on plain arrays (STYLE.md habit 2: create, accumulate, solve).
 *
 * Every weight here is a row-major matrix `W[rows, cols]` whose rows are the layer's output channels and
 * whose columns are its inputs (the reduction axis): a MatMul weight [K, N] arrives transposed, a Conv
 * weight [O, I, kh, kw] as [O, kh*kw*I] (input channels innermost, so that n:m groups run along input
 * channels as sparse tensor cores expect). A mask is a Uint8Array with 1 where the weight is removed.
 *
 * - magnitude: |w|.
 * - Wanda (Sun et al. 2023, "A Simple and Effective Pruning Approach for Large Language Models"):
 *   |W_ij| * ||X_j||_2, compared within each output row.
 * - SparseGPT (Frantar & Alistarh 2023, "SparseGPT: Massive Language Models Can Be Accurately Pruned in
 *   One-Shot"): OBS-style pruning column by column with the inverse Hessian of the layer's reconstruction
 *   loss ||WX - ŴX||², updating the weights not yet visited to compensate each removal.
 * - bias correction: the mean output change (W - Ŵ) E[x] of a pruned layer, which its bias takes back.
 * - channels: L1 / L2 norms of each output row (Li et al. 2017), or Taylor scores |w * dL/dw| summed per
 *   row (Molchanov et al. 2019).
 */

/** A weight matrix in the row layout above. */
export interface RowMatrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/** |w|, the magnitude score. */
export function magnitudeScores(w: Float32Array): Float32Array {
  const s = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) s[i] = Math.abs(w[i]!);
  return s;
}

/**
 * Wanda scores |W_ij| * ||X_j||_2. `colSq[j]` is the sum over calibration rows of x_j² (the norm's square;
 * the sample count only scales all scores alike and cannot change a ranking).
 */
export function wandaScores(w: RowMatrix, colSq: ArrayLike<number>): Float32Array {
  const { rows, cols, data } = w;
  if (colSq.length !== cols) throw new Error(`wandaScores: ${colSq.length} column norms for ${cols} columns`);
  const norms = new Float64Array(cols);
  for (let j = 0; j < cols; j++) norms[j] = Math.sqrt(Math.max(0, colSq[j]!));
  const s = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) s[o + j] = Math.abs(data[o + j]!) * norms[j]!;
  }
  return s;
}

/**
 * Marks exactly `k` of the lowest scores among `scores[start, start + length)` (ties broken by position, so
 * the count is exact and the result deterministic). Returns the mask over that range.
 */
export function lowestK(scores: ArrayLike<number>, k: number, start = 0, length = scores.length - start): Uint8Array {
  const mask = new Uint8Array(length);
  if (k <= 0) return mask;
  if (k >= length) return mask.fill(1);
  const sorted = new Float64Array(length);
  for (let i = 0; i < length; i++) sorted[i] = scores[start + i]!;
  sorted.sort();
  const thr = sorted[k - 1]!;
  let count = 0;
  for (let i = 0; i < length; i++) {
    if (scores[start + i]! < thr) {
      mask[i] = 1;
      count++;
    }
  }
  for (let i = 0; i < length && count < k; i++) {
    if (scores[start + i] === thr) {
      mask[i] = 1;
      count++;
    }
  }
  return mask;
}

/**
 * Unstructured mask removing round(sparsity * size) weights: over the whole layer, or (`perRow`, as Wanda
 * compares) round(sparsity * cols) in each output row.
 */
export function unstructuredMask(scores: Float32Array, rows: number, cols: number, sparsity: number, perRow: boolean): Uint8Array {
  if (!perRow) return lowestK(scores, Math.round(sparsity * rows * cols));
  const mask = new Uint8Array(rows * cols);
  const k = Math.round(sparsity * cols);
  for (let r = 0; r < rows; r++) mask.set(lowestK(scores, k, r * cols, cols), r * cols);
  return mask;
}

/**
 * N:M mask: in every row, each group of `m` consecutive columns keeps its `n` highest scores (exactly; ties by
 * position). `cols` must be a multiple of `m`.
 */
export function nmMask(scores: Float32Array, rows: number, cols: number, n: number, m: number): Uint8Array {
  if (cols % m !== 0) throw new Error(`nmMask: ${cols} columns are not a multiple of ${m}`);
  const mask = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let g = r * cols; g < (r + 1) * cols; g += m) mask.set(lowestK(scores, m - n, g, m), g);
  }
  return mask;
}

/**
 * One magnitude threshold across layers (--scope global): exactly round(sparsity * total) weights removed
 * over all layers together, the smallest |w| first. Returns one mask per layer.
 */
export function globalMasks(weights: Float32Array[], sparsity: number): Uint8Array[] {
  const total = weights.reduce((n, w) => n + w.length, 0);
  const all = new Float32Array(total);
  let off = 0;
  for (const w of weights) {
    for (let i = 0; i < w.length; i++) all[off + i] = Math.abs(w[i]!);
    off += w.length;
  }
  const mask = lowestK(all, Math.round(sparsity * total));
  const out: Uint8Array[] = [];
  off = 0;
  for (const w of weights) {
    out.push(mask.slice(off, off + w.length));
    off += w.length;
  }
  return out;
}

/** Sets masked weights to exactly 0 (in place); returns how many are zero afterwards. */
export function applyMask(w: Float32Array, mask: Uint8Array): number {
  let zeros = 0;
  for (let i = 0; i < w.length; i++) {
    if (mask[i]) w[i] = 0;
    if (w[i] === 0) zeros++;
  }
  return zeros;
}

/** Number of exact zeros. */
export function countZeros(w: ArrayLike<number>): number {
  let z = 0;
  for (let i = 0; i < w.length; i++) if (w[i] === 0) z++;
  return z;
}

/**
 * Relative output error of replacing W by Ŵ on inputs with second moment H = Σ x xᵀ:
 * tr((W-Ŵ) H (W-Ŵ)ᵀ) / tr(W H Wᵀ). With H = I this is the relative Frobenius error.
 */
export function relativeOutputError(w: RowMatrix, pruned: Float32Array, h?: ArrayLike<number>): number {
  const { rows, cols, data } = w;
  let num = 0;
  let den = 0;
  if (!h) {
    for (let i = 0; i < data.length; i++) {
      num += (data[i]! - pruned[i]!) ** 2;
      den += data[i]! ** 2;
    }
    return den > 0 ? num / den : 0;
  }
  const d = new Float64Array(cols);
  const wr = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) {
      d[j] = data[o + j]! - pruned[o + j]!;
      wr[j] = data[o + j]!;
    }
    for (let i = 0; i < cols; i++) {
      const hi = i * cols;
      let sd = 0;
      let sw = 0;
      for (let j = 0; j < cols; j++) {
        sd += h[hi + j]! * d[j]!;
        sw += h[hi + j]! * wr[j]!;
      }
      num += d[i]! * sd;
      den += wr[i]! * sw;
    }
  }
  return den > 0 ? num / den : 0;
}

/**
 * The mean output change that pruning W -> Ŵ removed, (W - Ŵ) μ for the input means μ (one value per
 * output row): what bias correction adds back to the layer's bias so that E[Ŵ x + b'] = E[W x + b].
 * Afterwards the layer's output error has zero mean on the calibration inputs; its mean square drops by
 * exactly the square of this shift, per output.
 */
export function outputShift(w: RowMatrix, pruned: Float32Array, means: ArrayLike<number>): Float64Array {
  const { rows, cols, data } = w;
  if (means.length !== cols) throw new Error(`outputShift: ${means.length} input means for ${cols} columns`);
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = 0;
    for (let j = 0; j < cols; j++) s += (data[o + j]! - pruned[o + j]!) * means[j]!;
    out[r] = s;
  }
  return out;
}

/** What SparseGPT needs besides W: the upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ U), and the dead columns. */
export interface SparseGptInputs {
  /** Row-major [cols, cols] upper-triangular factor of the dampened inverse Hessian. */
  hinvUpper: ArrayLike<number>;
  /** Columns whose input was always zero (their weights are pruned first: they never mattered). */
  dead?: Uint8Array;
}

/**
 * Prepares the Hessian for inversion, as the reference does: a column whose input is always zero gets a
 * unit diagonal (and its weights are free to prune), and `damp * mean(diag)` is added to the diagonal so
 * that H is safely positive definite. Returns a new array and the dead columns.
 */
export function dampenHessian(h: ArrayLike<number>, cols: number, damp: number): { h: Float32Array; dead: Uint8Array } {
  const out = Float32Array.from(h);
  const dead = new Uint8Array(cols);
  let mean = 0;
  for (let i = 0; i < cols; i++) {
    if (out[i * cols + i]! <= 0) {
      dead[i] = 1;
      out[i * cols + i] = 1;
    }
    mean += out[i * cols + i]!;
  }
  mean /= cols;
  for (let i = 0; i < cols; i++) out[i * cols + i] = out[i * cols + i]! + damp * mean;
  return { h: out, dead };
}

/** SparseGPT options: the sparsity target or an n:m pattern, and the lazy-update block width. */
export interface SparseGptOptions {
  sparsity: number;
  nm?: { n: number; m: number };
  blockSize: number;
}

/**
 * SparseGPT (Frantar & Alistarh 2023, Algorithm 1). Visits the columns left to right in blocks of
 * `blockSize`. In each block the mask is chosen by the OBS saliency w² / [H⁻¹]_jj² (per block for
 * unstructured: the lowest `sparsity` share of the block; per group of m for n:m: the m-n lowest of each
 * row's group); then each column's removed weights are zeroed and the error (w - ŵ) / [H⁻¹]_jj is spread
 * over the remaining columns of the block along row j of the Cholesky factor, and, after the block, over
 * all later columns at once (the "lazy batch" update of GPTQ). Returns the pruned matrix and mask; W is not
 * modified.
 */
export function sparseGpt(w: RowMatrix, inputs: SparseGptInputs, opts: SparseGptOptions): { data: Float32Array; mask: Uint8Array } {
  const { rows, cols } = w;
  const U = inputs.hinvUpper;
  if (U.length !== cols * cols) throw new Error(`sparseGpt: inverse-Hessian factor has ${U.length} entries for ${cols} columns`);
  const W = Float64Array.from(w.data);
  const mask = new Uint8Array(rows * cols);
  if (inputs.dead) {
    for (let j = 0; j < cols; j++) if (inputs.dead[j]) for (let r = 0; r < rows; r++) W[r * cols + j] = 0;
  }
  const bs = Math.max(1, opts.blockSize);
  const nm = opts.nm;
  for (let b0 = 0; b0 < cols; b0 += bs) {
    const b1 = Math.min(cols, b0 + bs);
    const count = b1 - b0;
    // Err[r, i - b0]: the scaled error of column i, applied to later blocks after this one.
    const err = new Float64Array(rows * count);
    if (!nm) {
      // Saliency of every weight of the block with the block's current (already updated) values.
      const sal = new Float64Array(rows * count);
      for (let r = 0; r < rows; r++) {
        for (let i = b0; i < b1; i++) {
          const d = U[i * cols + i]!;
          sal[r * count + (i - b0)] = (W[r * cols + i]! * W[r * cols + i]!) / (d * d);
        }
      }
      const bm = lowestK(sal, Math.round(opts.sparsity * rows * count));
      for (let r = 0; r < rows; r++) for (let i = 0; i < count; i++) mask[r * cols + b0 + i] = bm[r * count + i]!;
    }
    for (let i = b0; i < b1; i++) {
      if (nm && (i - b0) % nm.m === 0) {
        // The n:m decision for the group starting here, with the weights as updated so far.
        const g = Math.min(nm.m, cols - i);
        const sal = new Float64Array(g);
        for (let r = 0; r < rows; r++) {
          for (let t = 0; t < g; t++) {
            const d = U[(i + t) * cols + i + t]!;
            sal[t] = (W[r * cols + i + t]! * W[r * cols + i + t]!) / (d * d);
          }
          const gm = lowestK(sal, Math.round(((nm.m - nm.n) * g) / nm.m));
          for (let t = 0; t < g; t++) mask[r * cols + i + t] = gm[t]!;
        }
      }
      const d = U[i * cols + i]!;
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        if (!mask[o + i]) continue;
        const e = W[o + i]! / d;
        W[o + i] = 0;
        err[r * count + (i - b0)] = e;
        // Compensate within the block: W[r, i+1..b1) -= e * U[i, i+1..b1).
        const ui = i * cols;
        for (let j = i + 1; j < b1; j++) W[o + j] = W[o + j]! - e * U[ui + j]!;
      }
    }
    // Lazy update of everything right of the block: W[:, b1:] -= Err · U[b0:b1, b1:].
    if (b1 < cols) {
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        for (let i = 0; i < count; i++) {
          const e = err[r * count + i]!;
          if (e === 0) continue;
          const ui = (b0 + i) * cols;
          for (let j = b1; j < cols; j++) W[o + j] = W[o + j]! - e * U[ui + j]!;
        }
      }
    }
  }
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = mask[i] ? 0 : W[i]!;
  return { data, mask };
}

/** L1 or L2 norm of each output row (a channel's filter or a neuron's weights). */
export function channelNorms(w: RowMatrix, kind: 'l1' | 'l2'): Float64Array {
  const out = new Float64Array(w.rows);
  for (let r = 0; r < w.rows; r++) {
    let s = 0;
    for (let j = r * w.cols; j < (r + 1) * w.cols; j++) s += kind === 'l1' ? Math.abs(w.data[j]!) : w.data[j]! * w.data[j]!;
    out[r] = kind === 'l1' ? s : Math.sqrt(s);
  }
  return out;
}

/**
 * Taylor importance of each output row: Σ_j |w_j * g_j| over the row's weights (first-order estimate of the
 * loss change when the weight is removed; Molchanov et al. 2019, "Importance Estimation for Neural Network
 * Pruning"). `grad` is dL/dW in the same layout, summed over the calibration batches.
 */
export function taylorScores(w: RowMatrix, grad: Float32Array): Float64Array {
  const out = new Float64Array(w.rows);
  for (let r = 0; r < w.rows; r++) {
    let s = 0;
    for (let j = r * w.cols; j < (r + 1) * w.cols; j++) s += Math.abs(w.data[j]! * grad[j]!);
    out[r] = s;
  }
  return out;
}

/** The `count` lowest-scoring channels, ascending by index. */
export function lowestChannels(scores: ArrayLike<number>, count: number): number[] {
  const m = lowestK(scores, count);
  const out: number[] = [];
  for (let i = 0; i < m.length; i++) if (m[i]) out.push(i);
  return out;
}
