/**
 * Taylor importance of output channels (Molchanov et al. 2019, "Importance Estimation for Neural Network
 * Pruning"): the first-order estimate of how much the loss changes when a weight is removed is |w * dL/dw|;
 * a channel's score is the sum over its weights. The gradients come from the runtime's training mode: the
 * layers' weights become tf.Variables (Session.makeTrainable), the forward pass runs with
 * `training: true` inside tf.variableGrads, and dL/dW is summed over the calibration batches. The loss is
 * the cross-entropy of the first output's logits against the labels, or, without labels, against the
 * model's own argmax (so the score measures how much each channel supports the model's present answers).
 *
 * This file is the one place in prune that touches tfjs (through runtime/backend's `tf`): the loss and
 * the gradient tape have no runtime helper yet.
 */
import { ModelError, UsageError } from '../../core/errors.js';
import type { Context } from '../../core/logger.js';
import type { Model } from '../../ir/model.js';
import { tf, type BackendName } from '../../runtime/backend.js';
import { Session } from '../../runtime/session.js';
import type { RTensor } from '../../runtime/value.js';
import { weightView } from '../../ir/weights.js';
import type { PruneLayer } from './layers.js';

/** Output-channel index of every element of the layer's stored weight. */
function channelOf(l: PruneLayer): (i: number) => number {
  const t = l.weight.initializer!;
  if (l.op === 'Conv') {
    const per = t.size / t.dims[0]!;
    return (i) => Math.floor(i / per);
  }
  if (l.op === 'Gemm' && l.node.attrInt('transB', 0) !== 0) {
    const K = t.dims[1]!;
    return (i) => Math.floor(i / K);
  }
  const N = t.dims[1]!;
  return (i) => i % N;
}

/**
 * Taylor channel scores of each layer (indexed by output channel), from dL/dW summed over `data`.
 * `labels` are per-sample class indices in data order; without them the model's argmax is the target.
 */
export async function taylorChannelScores(model: Model, layers: PruneLayer[], data: Iterable<Record<string, RTensor>>, labels: Int32Array | undefined, backend: BackendName, ctx: Context): Promise<Map<PruneLayer, Float64Array>> {
  const session = await Session.create(model, { backend, logger: ctx.logger });
  const names = layers.map((l) => l.weight.name);
  const output = model.graph.outputs[0];
  if (!output) throw new ModelError('the model has no output to take a loss on');
  const grads = new Map<string, Float32Array>();
  try {
    const vars = session.makeTrainable(names);
    const varList = [...vars.values()];
    let offset = 0;
    let batches = 0;
    const task = ctx.progress.start('taylor gradients', 0);
    for (const feeds of data) {
      const first = Object.values(feeds)[0];
      const n = first?.dims[0] ?? 1;
      // Targets first, outside the tape (argmax has no gradient).
      let target: Int32Array;
      if (labels) {
        if (offset + n > labels.length) throw new UsageError(`--labels holds ${labels.length} labels, fewer than the ${offset + n} samples of --data`);
        target = labels.slice(offset, offset + n);
      } else {
        const out = session.runSync(feeds, { outputs: [output.name] });
        const logits = out.get(output.name)!;
        target = tf.tidy(() => {
          const t = logits.tf;
          const flat = t.reshape([-1, t.shape[t.shape.length - 1]!]);
          return tf.argMax(flat, -1).dataSync() as Int32Array;
        }).slice();
        logits.dispose();
      }
      const { grads: g, value } = tf.variableGrads(() => {
        const out = session.runSync(feeds, { outputs: [output.name], training: true });
        const logits = out.get(output.name)!.tf;
        const classes = logits.shape[logits.shape.length - 1]!;
        const flat = logits.reshape([-1, classes]);
        if (flat.shape[0] !== target.length) throw new ModelError(`the output '${output.name}' has ${flat.shape[0]} rows of logits for ${target.length} targets`, 'Taylor scores need a classifier output [batch, classes]');
        const onehot = tf.oneHot(tf.tensor1d(target, 'int32'), classes);
        return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(flat)), -1))) as tf.Scalar;
      }, varList);
      value.dispose();
      for (const [name, variable] of vars) {
        const gt = g[variable.name];
        if (!gt) continue;
        const d = gt.dataSync() as Float32Array;
        const acc = grads.get(name);
        if (!acc) grads.set(name, Float32Array.from(d));
        else for (let i = 0; i < d.length; i++) acc[i] = acc[i]! + d[i]!;
      }
      for (const t of Object.values(g)) t.dispose();
      offset += n;
      batches++;
      task.tick(1);
    }
    task.done();
    if (batches === 0) throw new UsageError('--method taylor needs at least one batch of --data');
  } finally {
    session.dispose();
  }
  const scores = new Map<PruneLayer, Float64Array>();
  for (const l of layers) {
    const w = weightView(l.weight.initializer!);
    const g = grads.get(l.weight.name);
    const s = new Float64Array(l.rows);
    if (g) {
      const ch = channelOf(l);
      for (let i = 0; i < w.length; i++) {
        const c = ch(i);
        s[c] = s[c]! + Math.abs(w[i]! * g[i]!);
      }
    }
    scores.set(l, s);
  }
  return scores;
}
