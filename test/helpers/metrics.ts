/** Task metrics computed directly from logits, as independent references for the passes' quality tests. */

/** Top-1 accuracy of [n, classes] logits against integer labels. */
export function accuracy(logits: Float32Array, classes: number, labels: ArrayLike<number | bigint>): number {
  let ok = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c]! > logits[i * classes + best]!) best = c;
    if (best === Number(labels[i]!)) ok++;
  }
  return ok / labels.length;
}

/** exp(mean NLL) of the next-token predictions: logits [n, seq, vocab] for token ids [n, seq]. */
export function perplexity(logits: Float32Array, dims: number[], ids: BigInt64Array): number {
  const [n, seq, vocab] = dims as [number, number, number];
  let nll = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < seq - 1; t++) {
      const off = (i * seq + t) * vocab;
      let max = -Infinity;
      for (let v = 0; v < vocab; v++) max = Math.max(max, logits[off + v]!);
      let sum = 0;
      for (let v = 0; v < vocab; v++) sum += Math.exp(logits[off + v]! - max);
      nll += Math.log(sum) + max - logits[off + Number(ids[i * seq + t + 1]!)]!;
      count++;
    }
  }
  return Math.exp(nll / count);
}

/** max |a - b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** ||a - b|| / ||b||. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}
