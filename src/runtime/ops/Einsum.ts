/**
 * Einsum (ONNX opset 12): Einstein summation over any number of operands, with "..." (broadcast
 * dimensions, right-aligned across operands), repeated labels within an operand (diagonals), the
 * implicit form without "->" (output = the labels used once, alphabetically, after the ellipsis) and
 * the explicit form.
 *
 * Plan (as numpy.einsum / opt_einsum do without path search): take diagonals, sum away labels that
 * appear in one operand only and not in the output, then contract operands left to right, each pair as
 * one batched matrix product: [batch, freeA, contracted] @ [batch, contracted, freeB] (util/matmul.ts),
 * and finally transpose to the output order.
 */
import { isFloatType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { onDevice } from '../util/device.js';
import { gatherWithGrad } from '../util/gathergrad.js';
import { batchMatMul } from '../util/matmul.js';
import { RTensor } from '../value.js';

/** One operand while it is being reduced: its tensor and one label per axis. */
interface Term {
  t: tf.Tensor;
  labels: string[];
}

/** Labels standing for the ellipsis dims: code points no equation letter uses, right-aligned. */
function ellipsisLabels(count: number, total: number): string[] {
  return Array.from({ length: count }, (_, i) => String.fromCharCode(0x100 + total - count + i));
}

/** Splits one side of the equation into labels, expanding "..." for an operand of rank `rank`. */
function parseTerm(term: string, rank: number, ellRank: number, ctx: KernelContext): string[] {
  const parts = term.split('...');
  if (parts.length > 2) throw new ModelError(`${ctx.node.describe()}: '${term}' has more than one ellipsis`);
  const letters = (s: string) => {
    for (const ch of s) if (!/[a-zA-Z]/.test(ch)) throw new ModelError(`${ctx.node.describe()}: unexpected '${ch}' in einsum term '${term}'`);
    return [...s];
  };
  if (parts.length === 1) {
    const ls = letters(term);
    if (rank >= 0 && ls.length !== rank) throw new ModelError(`${ctx.node.describe()}: einsum term '${term}' has ${ls.length} labels for an operand of rank ${rank}`);
    return ls;
  }
  const head = letters(parts[0]!);
  const tail = letters(parts[1]!);
  const count = rank >= 0 ? rank - head.length - tail.length : ellRank;
  if (count < 0) throw new ModelError(`${ctx.node.describe()}: einsum term '${term}' has more labels than its operand's rank ${rank}`);
  return [...head, ...ellipsisLabels(count, ellRank), ...tail];
}

/** Removes repeated labels by taking diagonals. */
function diagonals(term: Term): Term {
  let { t, labels } = term;
  for (;;) {
    const dup = labels.findIndex((l, i) => labels.indexOf(l) !== i);
    if (dup < 0) return { t, labels };
    const first = labels.indexOf(labels[dup]!);
    const n = t.shape[first]!;
    // Move the two axes last, flatten them, keep entries (i, i).
    const rest = labels.map((_, i) => i).filter((i) => i !== first && i !== dup);
    const moved = tf.transpose(t, [...rest, first, dup]);
    const flat = tf.reshape(moved, [...rest.map((i) => t.shape[i]!), n * n]);
    const idx = tf.tensor1d(Array.from({ length: n }, (_, i) => i * (n + 1)), 'int32');
    t = gatherWithGrad(flat, idx, flat.rank - 1);
    labels = [...rest.map((i) => labels[i]!), labels[first]!];
  }
}

/** Sums the axes whose labels are not in `keep`. */
function sumAway(term: Term, keep: Set<string>): Term {
  const axes = term.labels.map((l, i) => (keep.has(l) ? -1 : i)).filter((i) => i >= 0);
  if (axes.length === 0) return term;
  return { t: tf.sum(term.t, axes), labels: term.labels.filter((l) => keep.has(l)) };
}

/** Contracts two terms; `keep` lists labels still needed afterwards (output or later operands). */
function contract(a: Term, b: Term, keep: Set<string>, what: string): Term {
  const inB = new Set(b.labels);
  const inA = new Set(a.labels);
  const batch = a.labels.filter((l) => inB.has(l) && keep.has(l));
  const summed = a.labels.filter((l) => inB.has(l) && !keep.has(l));
  const freeA = a.labels.filter((l) => !inB.has(l));
  const freeB = b.labels.filter((l) => !inA.has(l));
  const size = (t: Term, l: string) => t.t.shape[t.labels.indexOf(l)]!;
  // Broadcast size-1 batch dims (from "...") to the other side's size.
  const batchDims = batch.map((l) => Math.max(size(a, l), size(b, l)));
  const k = summed.reduce((p, l) => p * Math.max(size(a, l), size(b, l)), 1);
  const prep = (t: Term, order: string[]) => {
    let x = tf.transpose(t.t, order.map((l) => t.labels.indexOf(l)));
    const target = [...batchDims, ...order.slice(batch.length).map((l) => (summed.includes(l) ? Math.max(size(a, l), size(b, l)) : size(t, l)))];
    if (target.some((d, i) => d !== x.shape[i])) x = tf.broadcastTo(x, target);
    return x;
  };
  const fa = freeA.reduce((p, l) => p * size(a, l), 1);
  const fb = freeB.reduce((p, l) => p * size(b, l), 1);
  const bt = batchDims.reduce((p, d) => p * d, 1);
  const A = tf.reshape(prep(a, [...batch, ...freeA, ...summed]), [bt, fa, k]);
  const B = tf.reshape(prep(b, [...batch, ...summed, ...freeB]), [bt, k, fb]);
  const y = batchMatMul(A, B, what);
  return { t: tf.reshape(y, [...batchDims, ...freeA.map((l) => size(a, l)), ...freeB.map((l) => size(b, l))]), labels: [...batch, ...freeA, ...freeB] };
}

function run(inputs: readonly (RTensor | null)[], ctx: KernelContext): (RTensor | null)[] {
  const node = ctx.node;
  const eq = (node.attrString('equation') ?? '').replace(/\s+/g, '');
  if (!eq) throw new ModelError(`${node.describe()}: missing attribute 'equation'`);
  const xs = inputs.map((x, i) => {
    if (!x) throw new ModelError(`${node.describe()}: input ${i} is missing`);
    if (!isFloatType(x.dataType)) throw new ModelError(`${node.describe()}: only float Einsum is supported`, 'Cast the operands to FLOAT');
    return x;
  });
  const [lhs, rhs] = eq.split('->') as [string, string | undefined];
  const termsStr = lhs.split(',');
  if (termsStr.length !== xs.length) throw new ModelError(`${node.describe()}: equation '${eq}' has ${termsStr.length} operands, the node ${xs.length} inputs`);
  const ellRank = Math.max(0, ...termsStr.map((s, i) => (s.includes('...') ? xs[i]!.rank - s.replace('...', '').length : 0)));
  const labelsPer = termsStr.map((s, i) => parseTerm(s, xs[i]!.rank, ellRank, ctx));
  let outLabels: string[];
  if (rhs !== undefined) {
    outLabels = parseTerm(rhs, -1, ellRank, ctx);
  } else {
    const counts = new Map<string, number>();
    for (const ls of labelsPer) for (const l of ls) counts.set(l, (counts.get(l) ?? 0) + 1);
    const ell = ellipsisLabels(ellRank, ellRank);
    outLabels = [...ell, ...[...counts].filter(([l, c]) => c === 1 && !ell.includes(l)).map(([l]) => l).sort()];
  }
  onDevice(...xs);
  const y = tf.tidy(() => {
    let terms: Term[] = xs.map((x, i) => diagonals({ t: x.tf, labels: labelsPer[i]! }));
    const neededAfter = (from: number) => {
      const s = new Set(outLabels);
      for (let j = from; j < terms.length; j++) for (const l of terms[j]!.labels) s.add(l);
      return s;
    };
    // Labels of one operand only (and not in the output) are summed right away.
    terms = terms.map((t, i) => {
      const others = new Set(outLabels);
      terms.forEach((u, j) => {
        if (j !== i) for (const l of u.labels) others.add(l);
      });
      return sumAway(t, others);
    });
    let acc = terms[0]!;
    for (let i = 1; i < terms.length; i++) acc = contract(acc, terms[i]!, neededAfter(i + 1), node.describe());
    acc = sumAway(acc, new Set(outLabels));
    for (const l of outLabels) if (!acc.labels.includes(l)) throw new ModelError(`${node.describe()}: output label '${l}' of '${eq}' appears in no input`);
    const perm = outLabels.map((l) => acc.labels.indexOf(l));
    return perm.every((p, i) => p === i) ? tf.clone(acc.t) : tf.transpose(acc.t, perm);
  });
  return [RTensor.fromTf(y, xs[0]!.dataType)];
}

export const Einsum: OpKernel[] = [{ domain: '', opType: 'Einsum', since: 12, run }];
