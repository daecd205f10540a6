/**
 * The recurrent ops (RNN, GRU, LSTM) share everything but the cell: directions (forward, reverse,
 * bidirectional), layouts (0: [seq, batch, ...], 1 (opset 14): [batch, seq, ...]), sequence_lens,
 * initial states, activations with their alpha/beta lists, and how outputs are stacked.
 *
 * Speed: the input projection X @ W^T (+ both biases) of every time step is one matrix product before
 * the loop; each step then adds H @ R^T. W^T and R^T of constant weights are made once per session
 * (util/constcache.ts). The loop runs on tfjs, synchronously, so a training pass records it all.
 *
 * sequence_lens: past a batch entry's length its state is held and its Y rows are zero; the reverse
 * direction of a shorter sequence starts at its own last step. Both follow from one rule applied at
 * every step t: where t >= len, keep the previous state and output zero (onnxruntime's semantics).
 */
import { ModelError } from '../../core/errors.js';
import type { Value } from '../../ir/value.js';
import { tf } from '../backend.js';
import type { KernelContext } from '../kernel.js';
import { RTensor } from '../value.js';
import { derived } from './constcache.js';
import { onDevice } from './device.js';
import { readInts } from './ints.js';

export type Activation = (x: tf.Tensor) => tf.Tensor;

/** Which activations read an alpha / a beta, and their defaults (those of the ONNX ops of that name). */
const PARAMS: Record<string, { alpha?: number; beta?: number }> = {
  affine: { alpha: 1, beta: 0 },
  leakyrelu: { alpha: 0.01 },
  thresholdedrelu: { alpha: 1 },
  scaledtanh: { alpha: 1, beta: 1 },
  hardsigmoid: { alpha: 0.2, beta: 0.5 },
  elu: { alpha: 1 },
};

function makeActivation(name: string, alpha: number, beta: number, ctx: KernelContext): Activation {
  switch (name.toLowerCase()) {
    case 'sigmoid':
      return tf.sigmoid;
    case 'tanh':
      return tf.tanh;
    case 'relu':
      return tf.relu;
    case 'affine':
      return (x) => tf.add(tf.mul(x, alpha), beta);
    case 'leakyrelu':
      return (x) => tf.leakyRelu(x, alpha);
    case 'thresholdedrelu':
      return (x) => tf.mul(x, tf.cast(tf.greater(x, alpha), 'float32'));
    case 'scaledtanh':
      return (x) => tf.mul(tf.tanh(tf.mul(x, beta)), alpha);
    case 'hardsigmoid':
      return (x) => tf.clipByValue(tf.add(tf.mul(x, alpha), beta), 0, 1);
    case 'elu':
      return (x) => (alpha === 1 ? tf.elu(x) : tf.where(tf.greater(x, 0), x, tf.mul(tf.sub(tf.exp(x), 1), alpha)));
    case 'softsign':
      return (x) => tf.div(x, tf.add(tf.abs(x), 1));
    case 'softplus':
      return tf.softplus;
    default:
      throw new ModelError(`${ctx.node.describe()}: unknown activation '${name}'`, 'use Sigmoid, Tanh, Relu, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign or Softplus');
  }
}

/**
 * The activations of each direction: `perDir` names per direction from the `activations` attribute
 * (or `defaults`), with activation_alpha / activation_beta consumed in order by the activations that
 * take them, as onnxruntime does.
 */
export function activations(ctx: KernelContext, perDir: number, defaults: string[], dirs: number): Activation[][] {
  const node = ctx.node;
  const names = node.attrStrings('activations') ?? Array.from({ length: dirs }, () => defaults).flat();
  if (names.length !== perDir * dirs) throw new ModelError(`${node.describe()}: expected ${perDir * dirs} activations, got ${names.length}`);
  const alphas = node.attrFloats('activation_alpha') ?? [];
  const betas = node.attrFloats('activation_beta') ?? [];
  let ai = 0;
  let bi = 0;
  const fns = names.map((n) => {
    const p = PARAMS[n.toLowerCase()] ?? {};
    const alpha = p.alpha === undefined ? 0 : ai < alphas.length ? alphas[ai++]! : p.alpha;
    const beta = p.beta === undefined ? 0 : bi < betas.length ? betas[bi++]! : p.beta;
    return makeActivation(n, alpha, beta, ctx);
  });
  return Array.from({ length: dirs }, (_, d) => fns.slice(d * perDir, (d + 1) * perDir));
}

/** The common inputs and attributes of a recurrent node, seq-major. */
export interface RecurrentSetup {
  seq: number;
  batch: number;
  hidden: number;
  /** 'forward' / 'reverse' per direction. */
  directions: ('forward' | 'reverse')[];
  layout: number;
  /** X as [seq, batch, input]. */
  x: tf.Tensor3D;
  /** Per step: a [batch, 1] 0/1 mask when some sequence has ended by then, else null. */
  masks: (tf.Tensor2D | null)[];
  /** clip threshold for gate pre-activations, or 0. */
  clip: number;
}

/**
 * Reads X (input 0), sequence_lens (input 4) and the attributes. `gates` is the number of stacked gate
 * blocks in W (1, 3 or 4). Call inside a tidy.
 */
export function recurrentSetup(inputs: readonly (RTensor | null)[], ctx: KernelContext, gates: number): RecurrentSetup {
  const node = ctx.node;
  const X = inputs[0];
  const W = inputs[1];
  if (!X || !W) throw new ModelError(`${node.describe()}: X and W are required`);
  const layout = ctx.opset >= 14 ? node.attrInt('layout', 0) : 0;
  if (X.rank !== 3) throw new ModelError(`${node.describe()}: X must be rank 3, got [${X.dims.join(',')}]`);
  const [seq, batch] = layout === 0 ? [X.dims[0]!, X.dims[1]!] : [X.dims[1]!, X.dims[0]!];
  const direction = node.attrString('direction', 'forward');
  const directions: ('forward' | 'reverse')[] = direction === 'bidirectional' ? ['forward', 'reverse'] : direction === 'reverse' ? ['reverse'] : direction === 'forward' ? ['forward'] : [];
  if (directions.length === 0) throw new ModelError(`${node.describe()}: unknown direction '${direction}'`, 'use forward, reverse or bidirectional');
  const hidden = node.attrInt('hidden_size') ?? W.dims[1]! / gates;
  if (W.dims[0] !== directions.length || W.dims[1] !== gates * hidden) {
    throw new ModelError(`${node.describe()}: W [${W.dims.join(',')}] does not fit ${directions.length} direction(s) of ${gates} x ${hidden} gates`);
  }
  const x = (layout === 0 ? X.tf : tf.transpose(X.tf, [1, 0, 2])) as tf.Tensor3D;
  const lensT = inputs[4] ?? null;
  const masks: (tf.Tensor2D | null)[] = new Array<tf.Tensor2D | null>(seq).fill(null);
  if (lensT) {
    const lens = readInts(lensT);
    if (lens.length !== batch) throw new ModelError(`${node.describe()}: sequence_lens has ${lens.length} entries for a batch of ${batch}`);
    for (let t = 0; t < seq; t++) {
      if (lens.every((l) => t < l)) continue;
      masks[t] = tf.tensor2d(lens.map((l) => (t < l ? 1 : 0)), [batch, 1]);
    }
  }
  return { seq, batch, hidden, directions, layout, x, masks, clip: node.attrFloat('clip', 0) };
}

/**
 * Rows [from, from + count) of weight `w` [dirs, G, K] for direction d, transposed to [K, count] (made
 * once for constants).
 */
export function weightT(w: RTensor, origin: Value | null, d: number, from = 0, count = w.dims[1]!): tf.Tensor2D {
  const k = w.dims[2]!;
  return derived(w, `rnn:T:${d}:${from}:${count}`, (t) => tf.transpose(tf.reshape(tf.slice(t, [d, from, 0], [1, count, k]), [count, k])), origin).t as tf.Tensor2D;
}

/** Entries [from, from + count) of row d of a [dirs, n] tensor (made once for constants). */
export function rowSlice(t: RTensor, origin: Value | null, d: number, from: number, count: number): tf.Tensor1D {
  return derived(t, `rnn:row:${d}:${from}:${count}`, (x) => tf.reshape(tf.slice(x, [d, from], [1, count]), [count]), origin).t as tf.Tensor1D;
}

/** An initial state [dirs, batch, H] (layout 0) or [batch, dirs, H] (layout 1) for direction d, else zeros. */
export function initialState(t: RTensor | null, d: number, s: RecurrentSetup): tf.Tensor2D {
  if (!t) return tf.zeros([s.batch, s.hidden]);
  const seqMajor = s.layout === 0 ? t.tf : tf.transpose(t.tf, [1, 0, 2]);
  return tf.reshape(tf.slice(seqMajor, [d, 0, 0], [1, s.batch, s.hidden]), [s.batch, s.hidden]);
}

/** X @ W^T + bias for all steps at once: [seq, batch, G]. */
export function inputProjection(s: RecurrentSetup, wT: tf.Tensor2D, bias: tf.Tensor1D | null): tf.Tensor[] {
  const [seq, batch, input] = s.x.shape;
  const x2 = tf.reshape(s.x, [seq * batch, input]) as tf.Tensor2D;
  const proj = bias ? tf.fused.matMul({ a: x2, b: wT, bias }) : tf.matMul(x2, wT);
  return tf.unstack(tf.reshape(proj, [seq, batch, wT.shape[1]]));
}

/** Clips gate pre-activations when the node has a `clip` threshold. */
export function clipped(x: tf.Tensor, s: RecurrentSetup): tf.Tensor {
  return s.clip > 0 ? tf.clipByValue(x, -s.clip, s.clip) : x;
}

/** Time steps in processing order for a direction. */
export function steps(s: RecurrentSetup, dir: 'forward' | 'reverse'): number[] {
  const ts = Array.from({ length: s.seq }, (_, i) => i);
  return dir === 'forward' ? ts : ts.reverse();
}

/** Where the step's mask is 0, keep `prev`; else take `next`. */
export function hold(next: tf.Tensor, prev: tf.Tensor, mask: tf.Tensor2D | null): tf.Tensor {
  if (!mask) return next;
  return tf.add(tf.mul(next, mask), tf.mul(prev, tf.sub(1, mask)));
}

/** The Y row of one step: the new state, zeroed where the sequence has ended. */
export function emit(h: tf.Tensor, mask: tf.Tensor2D | null): tf.Tensor {
  return mask ? tf.mul(h, mask) : h;
}

/**
 * Stacks per-direction results into the ONNX outputs: Y [seq, dirs, batch, H] (layout 1: [batch, seq,
 * dirs, H]) from per-direction lists of step rows in time order, and final states [dirs, batch, H]
 * (layout 1: [batch, dirs, H]).
 */
export function stackOutputs(s: RecurrentSetup, ys: tf.Tensor[][], finals: tf.Tensor[][]): { y: tf.Tensor; states: tf.Tensor[] } {
  const perDir = ys.map((rows) => tf.stack(rows));
  let y = tf.stack(perDir, 1);
  if (s.layout === 1) y = tf.transpose(y, [2, 0, 1, 3]);
  const states = finals.map((perDirection) => {
    const st = tf.stack(perDirection);
    return s.layout === 1 ? tf.transpose(st, [1, 0, 2]) : st;
  });
  return { y, states };
}

/** Wraps recurrent outputs as RTensors, returning only those the node asks for. */
export function recurrentResults(ctx: KernelContext, dataType: number, run: () => tf.Tensor[], inputs: readonly (RTensor | null)[]): (RTensor | null)[] {
  onDevice(...inputs.filter((_x, i) => i !== 4));
  const outs = tf.tidy(run);
  return outs.map((t, i) => {
    if (ctx.node.outputs[i] == null) {
      t.dispose();
      return null;
    }
    return RTensor.fromTf(t, dataType);
  });
}
