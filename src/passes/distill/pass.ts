/**
 * `compress distill`: trains a student ONNX model on a teacher's outputs (Hinton et al. 2015), through
 * the runtime's training mode. The student's weights become tf.Variables (Session.makeTrainable); each
 * step runs the teacher forward, the student forward under tf.variableGrads, and AdamW on the gradients
 * (train.ts); the trained values are written back into the student's initializers, so the graph is
 * otherwise untouched and any ONNX runtime runs the result. A float16 or bfloat16 student trains float32
 * master weights (the variables) and gets them back rounded to its own type, so it stays a float16 model.
 *
 * Students made by `compress prune` keep their sparsity: a weight tensor with at least 10 % exact zeros
 * gets a mask of its non-zeros, applied after every step, so pruned weights stay exactly zero.
 */
import { CompressError, ExitCode, ModelError, UsageError } from '../../core/errors.js';
import { isFloatType } from '../../core/dtype.js';
import { isWeightFloatType, weightView } from '../../ir/weights.js';
import type { Context } from '../../core/logger.js';
import type { Model } from '../../ir/model.js';
import type { Value } from '../../ir/value.js';
import type { NumericArray } from '../../ir/tensor.js';
import { openDataset, loadLabels } from '../../calibration/readers/index.js';
import { tf } from '../../runtime/backend.js';
import { Session } from '../../runtime/session.js';
import { RTensor } from '../../runtime/value.js';
import { loadCheckpoint, saveCheckpoint, type Checkpoint, type CheckpointState, type NamedArray } from './checkpoint.js';
import {
  accumulateAccuracy,
  accumulateKl,
  accumulateNll,
  combineLoss,
  createEval,
  crossEntropy,
  meanSquaredError,
  nextTokenPairs,
  rows,
  softTargetLoss,
  solveEval,
  type LossTerms,
} from './loss.js';
import { parseDistillOptions, type DistillOptions } from './options.js';
import { AdamW, clipByGlobalNorm, defaultAdamW, defaultWarmup, learningRate, Rng, shuffled, type Schedule } from './train.js';

/** What the pass receives besides the logger and progress: the training batches and their labels. */
export interface DistillContext extends Context {
  /** Batches of feeds by input name (the --data samples, in order). */
  data?: Iterable<Record<string, RTensor>>;
  /** Class labels of the --data samples. */
  labels?: Int32Array;
}

/** A trained tensor, for the report. */
export interface TrainedTensor {
  name: string;
  /** Op type of the node that reads it. */
  op: string;
  params: number;
  /** Fraction of exact zeros kept by the mask (pruned students). */
  sparsity?: number;
}

/** What `distill` returns (the CLI's PassOutcome). */
export interface DistillResult {
  model: Model;
  modified: boolean;
  layers: { name: string; op: string; params: number; sparsity?: number; [key: string]: unknown }[];
  warnings: string[];
  plan?: { trainable: TrainedTensor[]; params: number };
  report: Record<string, unknown>;
}

/** Thrown when training stopped on the abort signal (Ctrl-C); the checkpoint, if any, is written. */
export class DistillInterrupted extends CompressError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.failure, hint);
  }
}

/** Which input slots of which ops hold learnable parameters (weights, biases, norm scales, tables). */
const parameterSlots: Record<string, number[]> = {
  MatMul: [0, 1],
  Gemm: [0, 1, 2],
  Conv: [1, 2],
  ConvTranspose: [1, 2],
  LayerNormalization: [1, 2],
  BatchNormalization: [1, 2],
  InstanceNormalization: [1, 2],
  GroupNormalization: [1, 2],
  SimplifiedLayerNormalization: [1],
  Gather: [0],
  LSTM: [1, 2, 3],
  GRU: [1, 2, 3],
  RNN: [1, 2, 3],
  PRelu: [1],
};
/** Element-wise ops whose non-scalar initializer operand is a bias or a scale (layer norms written out). */
const elementwise = new Set(['Add', 'Sub', 'Mul']);

/**
 * The student's trainable tensors: float initializers (float32, float16, bfloat16) of the main graph that
 * only feed parameter slots of compute ops (never shape constants, epsilons, or tensors also read as data
 * by other ops).
 */
export function trainableTensors(model: Model): TrainedTensor[] {
  const out: TrainedTensor[] = [];
  for (const v of model.graph.initializers) {
    const t = v.initializer!;
    if (!isWeightFloatType(t.dataType) || v.uses.length === 0 || v.isGraphOutput) continue;
    const size = t.dims.reduce((a, b) => a * b, 1);
    const ok = v.uses.every((u) => {
      if (u.node.domain !== '' && u.node.domain !== 'ai.onnx' && u.node.opType !== 'SimplifiedLayerNormalization') return false;
      if (elementwise.has(u.node.opType)) return size >= 2;
      return parameterSlots[u.node.opType]?.includes(u.index) ?? false;
    });
    if (!ok) continue;
    out.push({ name: v.name, op: v.uses[0]!.node.opType, params: size });
  }
  return out;
}

/** The names of the inputs a caller feeds, and of the outputs. */
function interfaceOf(m: Model): { inputs: string[]; outputs: string[] } {
  return { inputs: m.graph.inputs.filter((v) => !v.initializer).map((v) => v.name), outputs: m.graph.outputs.map((v) => v.name) };
}

/** The training samples, gathered once so that every epoch can draw them in its own order. */
interface Columns {
  count: number;
  cols: { name: string; dataType: number; sampleShape: number[]; sampleSize: number; data: NumericArray }[];
}

function gatherSamples(data: Iterable<Record<string, RTensor>>, limit: number | undefined): Columns {
  const parts = new Map<string, { dataType: number; sampleShape: number[]; chunks: NumericArray[]; count: number }>();
  let count = 0;
  for (const feeds of data) {
    let n = -1;
    for (const [name, rt] of Object.entries(feeds)) {
      if (rt.dims.length === 0) throw new UsageError(`input '${name}' is a scalar per batch; distill needs a sample axis first to shuffle and batch the data`);
      const rows = rt.dims[0]!;
      if (n >= 0 && rows !== n) throw new UsageError(`the --data inputs differ in sample count within a batch (${n} and ${rows})`);
      n = rows;
      const p = parts.get(name) ?? { dataType: rt.dataType, sampleShape: rt.dims.slice(1), chunks: [], count: 0 };
      if (p.sampleShape.join(',') !== rt.dims.slice(1).join(',')) throw new UsageError(`samples of input '${name}' differ in shape ([${p.sampleShape.join(', ')}] and [${rt.dims.slice(1).join(', ')}]); distill batches them together`);
      p.chunks.push(rt.host() as NumericArray);
      p.count += rows;
      parts.set(name, p);
    }
    count += Math.max(0, n);
    for (const rt of Object.values(feeds)) rt.dispose();
    if (limit !== undefined && count >= limit) break;
  }
  count = Math.min(count, limit ?? Infinity);
  const cols = [...parts].map(([name, p]) => {
    const sampleSize = p.sampleShape.reduce((a, b) => a * b, 1);
    const Ctor = p.chunks[0]!.constructor as new (n: number) => NumericArray;
    const all = new Ctor(count * sampleSize);
    let off = 0;
    for (const c of p.chunks) {
      const take = Math.min(c.length, all.length - off);
      if (take <= 0) break;
      (all as Float32Array).set((c as Float32Array).subarray(0, take), off);
      off += take;
    }
    return { name, dataType: p.dataType, sampleShape: p.sampleShape, sampleSize, data: all };
  });
  return { count, cols };
}

/** Feeds of the samples `idx`, in that order. */
function batchFeeds(c: Columns, idx: ArrayLike<number>): Record<string, RTensor> {
  const feeds: Record<string, RTensor> = {};
  for (const col of c.cols) {
    const Ctor = col.data.constructor as new (n: number) => NumericArray;
    const out = new Ctor(idx.length * col.sampleSize);
    for (let i = 0; i < idx.length; i++) {
      const s = idx[i]! * col.sampleSize;
      (out as Float32Array).set((col.data as Float32Array).subarray(s, s + col.sampleSize), i * col.sampleSize);
    }
    feeds[col.name] = RTensor.fromHost(col.dataType, [idx.length, ...col.sampleShape], out);
  }
  return feeds;
}

function disposeAll(ts: Iterable<RTensor>): void {
  for (const t of ts) t.dispose();
}

/** The learned projection of a --hidden pair whose widths differ (student width -> teacher width). */
interface HiddenLink {
  teacher: string;
  student: string;
  projection?: tf.Variable;
}

function seconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  const r = Math.round(s % 60);
  return m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

/** Which metric an evaluation reports and whether higher is better. */
interface MetricKind {
  name: 'accuracy' | 'kl' | 'perplexity';
  higherIsBetter: boolean;
}

/**
 * Distils `options.teacher` into `model` (the student, trained in place) on the batches of `ctx.data`.
 * Returns the student with trained initializers and a report comparing it with the teacher.
 */
export async function distill(model: Model, options: unknown, ctx: DistillContext): Promise<DistillResult> {
  const opts = parseDistillOptions(options);
  const teacherModel = opts.teacher;
  if (!teacherModel) throw new UsageError('distill needs the teacher model (--teacher <t.onnx>, or options.teacher = await loadModel(path))');
  const ti = interfaceOf(teacherModel);
  const si = interfaceOf(model);
  if (ti.inputs.join('\u0000') !== si.inputs.join('\u0000') || ti.outputs.join('\u0000') !== si.outputs.join('\u0000')) {
    throw new ModelError(
      `the teacher and the student must have the same inputs and outputs (teacher: ${ti.inputs.join(', ')} -> ${ti.outputs.join(', ')}; student: ${si.inputs.join(', ')} -> ${si.outputs.join(', ')})`,
      'export both with the same input and output names',
    );
  }
  for (const p of opts.hidden) {
    if (!teacherModel.graph.value(p.teacher)) throw new UsageError(`--hidden: the teacher has no tensor named '${p.teacher}'`);
    if (!model.graph.value(p.student)) throw new UsageError(`--hidden: the student has no tensor named '${p.student}'`);
  }
  const trainable = trainableTensors(model);
  if (trainable.length === 0) throw new ModelError('the student has no float (float32, float16 or bfloat16) weight initializers feeding MatMul/Gemm/Conv/norm/embedding ops to train', 'distill trains float students; run it before quantizing');
  if (opts.dryRun) {
    const params = trainable.reduce((a, t) => a + t.params, 0);
    return { model, modified: false, layers: trainable.map((t) => ({ ...t })), warnings: [], plan: { trainable, params }, report: {} };
  }
  if (!ctx.data) throw new UsageError('distill needs training samples: give --data <train.npy|.npz|folder>');
  const samples = gatherSamples(ctx.data, opts.samples);
  if (samples.count === 0) throw new UsageError('--data holds no samples to train on');

  // Everything holding tfjs memory registers its release here; it runs however training ends (an
  // interruption, an error), so that a later run in the same process starts clean.
  const cleanup: (() => void)[] = [];
  try {
    return await train(model, teacherModel, opts, ctx, samples, trainable, cleanup);
  } finally {
    for (const f of cleanup.reverse()) f();
  }
}

/** The training proper (see `distill`); `cleanup` collects the releases of what it allocates. */
async function train(model: Model, teacherModel: Model, opts: DistillOptions, ctx: DistillContext, samples: Columns, trainable: TrainedTensor[], cleanup: (() => void)[]): Promise<DistillResult> {
  const { logger } = ctx;
  const warnings: string[] = [];
  const totalParams = trainable.reduce((a, t) => a + t.params, 0);
  const teacher = await Session.create(teacherModel, { backend: opts.backend, logger });
  cleanup.push(() => teacher.dispose());
  const student = await Session.create(model, { backend: opts.backend, logger });
  cleanup.push(() => student.dispose());
  const firstInput = model.graph.inputs.find((v) => !v.initializer)!;
  const fixedBatch = typeof firstInput.shape?.[0] === 'number' ? (firstInput.shape[0] as number) : undefined;
  const batchSize = fixedBatch ?? opts.batchSize;
  if (fixedBatch !== undefined && fixedBatch !== opts.batchSize) logger.info(`distill: the model's input '${firstInput.name}' takes batches of exactly ${fixedBatch}; --batch-size is ignored`);
  const stepsPerEpoch = fixedBatch !== undefined ? Math.floor(samples.count / batchSize) : Math.ceil(samples.count / batchSize);
  if (stepsPerEpoch === 0) throw new UsageError(`--data holds ${samples.count} samples, fewer than the model's fixed batch of ${batchSize}`);
  const totalSteps = stepsPerEpoch * opts.epochs;
  const outputs = interfaceOf(model).outputs;

  // A first forward pass tells the task and the widths of the hidden pairs.
  const probe = batchFeeds(samples, Array.from({ length: Math.min(batchSize, samples.count) }, (_, i) => i));
  const tProbe = teacher.runSync(probe, { outputs: [...outputs, ...opts.hidden.map((p) => p.teacher)] });
  const sProbe = student.runSync(probe, { outputs: [...outputs, ...opts.hidden.map((p) => p.student)] });
  const outDims = tProbe.get(outputs[0]!)!.dims;
  const sOutDims = sProbe.get(outputs[0]!)!.dims;
  if (outDims.join(',') !== sOutDims.join(',')) {
    throw new ModelError(`the teacher's output '${outputs[0]}' is [${outDims.join(', ')}] but the student's is [${sOutDims.join(', ')}] on the same batch`, 'distillation matches outputs element by element: both must predict the same classes or vocabulary');
  }
  const idsInput = samples.cols[0]!;
  const integerInput = !isFloatType(idsInput.dataType);
  const task = opts.task !== 'auto' ? opts.task : integerInput && outDims.length === 3 ? 'lm' : outDims.length >= 2 ? 'classification' : 'regression';
  const labels = task === 'classification' ? ctx.labels?.subarray(0, samples.count) : undefined;
  if (labels && labels.length < samples.count) throw new UsageError(`--labels holds ${labels.length} labels for ${samples.count} samples`);
  if (task === 'classification' && labels) {
    const classes = outDims[outDims.length - 1]!;
    const bad = labels.findIndex((l) => l >= classes);
    if (bad >= 0) throw new UsageError(`--labels: label ${labels[bad]} at index ${bad} is not below the model's ${classes} classes`);
  }
  if (task === 'lm' && opts.task === 'auto') logger.debug('distill: integer ids in, [batch, seq, vocab] out: a language model; the loss is per token');
  if (task === 'classification' && !labels && opts.alpha < 1) logger.debug('distill: no --labels: the loss is the soft-target term alone (alpha = 1)');

  const rng = new Rng(opts.seed);
  const links: HiddenLink[] = opts.hidden.map((p) => {
    const th = tProbe.get(p.teacher)!.dims;
    const sh = sProbe.get(p.student)!.dims;
    const dt = th[th.length - 1] ?? 1;
    const ds = sh[sh.length - 1] ?? 1;
    const rowsT = th.reduce((a, b) => a * b, 1) / dt;
    const rowsS = sh.reduce((a, b) => a * b, 1) / ds;
    if (rowsT !== rowsS) throw new UsageError(`--hidden ${p.teacher}=${p.student}: shapes [${th.join(', ')}] and [${sh.join(', ')}] differ beyond the last axis`, 'pair tensors that have the same positions (batch, sequence) and differ at most in width');
    if (dt === ds) return { ...p };
    // Small random init (variance 1/ds, as for a linear layer): the projection is learned with the student.
    const w = new Float32Array(ds * dt);
    for (let i = 0; i < w.length; i++) w[i] = rng.normal() / Math.sqrt(ds);
    const projection = tf.variable(tf.tensor2d(w, [ds, dt]), true);
    cleanup.push(() => projection.dispose());
    return { ...p, projection };
  });
  disposeAll(tProbe.values());
  disposeAll(sProbe.values());
  disposeAll(Object.values(probe));

  const vars = student.makeTrainable(trainable.map((t) => t.name));
  const params = new Map<string, tf.Variable>(vars);
  links.forEach((l, k) => {
    if (l.projection) params.set(`projection:${k}:${l.student}->${l.teacher}`, l.projection);
  });
  // Pruned students: each exact zero of a weight matrix (rank >= 2) with >= 10 % zeros stays zero. Biases
  // and norm shifts are left free (they are often initialised to zero), and so is an all-zero tensor.
  const masks = new Map<string, tf.Tensor>();
  for (const t of trainable) {
    const init = model.graph.value(t.name)!.initializer!;
    const data = weightView(init);
    let zeros = 0;
    for (let i = 0; i < data.length; i++) if (data[i] === 0) zeros++;
    if (init.dims.length >= 2 && zeros >= 0.1 * data.length && zeros < data.length) {
      t.sparsity = zeros / data.length;
      const mask = tf.tidy(() => tf.cast(tf.notEqual(vars.get(t.name)!, 0), 'float32'));
      cleanup.push(() => mask.dispose());
      masks.set(t.name, mask);
    }
  }
  if (masks.size > 0) logger.info(`distill: ${masks.size} weight tensors are sparse (>= 10 % zeros); their zeros stay zero`);
  const adam = new AdamW(params, { ...defaultAdamW, weightDecay: opts.weightDecay });
  cleanup.push(() => adam.dispose());
  const schedule: Schedule = { lr: opts.lr, totalSteps, warmupSteps: opts.warmupSteps ?? defaultWarmup(totalSteps) };
  const names = [...params.keys()];

  // Evaluation data, opened once; the teacher's metric is measured for the report.
  const evaluation = openEvaluation(opts, model, task, ctx, batchSize, teacher);
  if (!evaluation) warnings.push('distill: no --eval-data: the last epoch\'s weights are kept without a held-out check; give --eval-data to keep the best epoch');
  const teacherMetric = evaluation?.run(teacher, true);

  let epoch0 = 0;
  let batch0 = 0;
  let epochLoss = 0;
  let epochSeen = 0;
  let best: { value: number; epoch: number } | undefined;
  let bestWeights: NamedArray[] | undefined;
  let history: Record<string, number>[] = [];
  const fingerprint = { seed: opts.seed, epochs: opts.epochs, batchSize, samples: samples.count, lr: opts.lr, temperature: opts.temperature, alpha: opts.alpha, names };
  const snapshot = (): NamedArray[] => names.map((n) => ({ name: n, dims: params.get(n)!.shape.slice(), data: params.get(n)!.dataSync().slice() as Float32Array }));
  const restore = (arrays: NamedArray[], into: Map<string, tf.Variable>) => {
    arrays.forEach((a) => {
      const v = into.get(a.name)!;
      if (v.shape.join(',') !== a.dims.join(',')) throw new UsageError(`--resume: checkpoint tensor '${a.name}' is [${a.dims.join(', ')}], the model's is [${v.shape.join(', ')}]`);
      tf.tidy(() => v.assign(tf.tensor(a.data, v.shape)));
    });
  };
  if (opts.resume) {
    const ck = loadCheckpoint(opts.checkpoint!);
    const diff = Object.keys(fingerprint).filter((k) => JSON.stringify(ck.state.fingerprint[k]) !== JSON.stringify((fingerprint as Record<string, unknown>)[k]));
    if (diff.length > 0) {
      throw new UsageError(`--resume: the checkpoint in '${opts.checkpoint}' was made with other settings (${diff.join(', ')} differ)`, 'resume with the same data, model and options, or start again without --resume');
    }
    restore(ck.weights, params);
    restore(ck.adamM.map((a) => ({ ...a })), adam.m);
    restore(ck.adamV.map((a) => ({ ...a })), adam.v);
    adam.t = ck.state.step;
    rng.state = ck.state.rngState;
    epoch0 = ck.state.epoch;
    batch0 = ck.state.batch;
    epochLoss = ck.state.epochLoss ?? 0;
    epochSeen = ck.state.epochSeen ?? 0;
    best = ck.state.best;
    bestWeights = ck.best;
    history = ck.state.history;
    logger.info(`distill: resuming at epoch ${epoch0 + 1}, batch ${batch0 + 1} (step ${adam.t} of ${totalSteps}) from '${opts.checkpoint}'`);
  }
  let initialMetric: number | undefined;
  if (evaluation && !opts.resume) initialMetric = evaluation.run(student, false);

  const save = (state: Omit<CheckpointState, 'version' | 'names' | 'fingerprint' | 'history' | 'best' | 'step'>) => {
    if (opts.checkpoint === undefined) return;
    const ck: Checkpoint = {
      state: { version: 1, ...state, step: adam.t, history, fingerprint, names, ...(best ? { best } : {}) },
      weights: snapshot(),
      adamM: names.map((n) => ({ name: n, dims: adam.m.get(n)!.shape.slice(), data: adam.m.get(n)!.dataSync().slice() as Float32Array })),
      adamV: names.map((n) => ({ name: n, dims: adam.v.get(n)!.shape.slice(), data: adam.v.get(n)!.dataSync().slice() as Float32Array })),
    };
    if (bestWeights) ck.best = bestWeights;
    saveCheckpoint(opts.checkpoint, ck);
  };

  const varList = [...params.values()];
  const step = (feeds: Record<string, RTensor>, labelBatch: Int32Array | undefined): number => {
    const produced: RTensor[] = [];
    const collect = { observe: (_v: Value, t: RTensor) => void produced.push(t) };
    try {
      return tf.tidy(() => {
        const tOut = teacher.runSync(feeds, { outputs: [...outputs, ...links.map((l) => l.teacher)] });
        const tTensors = new Map([...tOut].map(([k, v]) => [k, v.tf]));
        produced.push(...tOut.values());
        const { value, grads } = tf.variableGrads(() => {
          const sOut = student.runSync(feeds, { training: true, outputs: [...outputs, ...links.map((l) => l.student)], ...collect });
          produced.push(...sOut.values());
          const s0 = sOut.get(outputs[0]!)!.tf;
          const t0 = tTensors.get(outputs[0]!)!;
          const terms: LossTerms = { soft: task === 'regression' ? meanSquaredError(s0, t0) : softTargetLoss(s0, t0, opts.temperature), hidden: [] };
          if (task === 'lm') {
            const ids = tf.cast(feeds[idsInput.name]!.tf, 'int32') as tf.Tensor2D;
            const pairs = nextTokenPairs(s0, ids);
            terms.hard = crossEntropy(pairs.logits, pairs.targets);
          } else if (labelBatch) {
            terms.hard = crossEntropy(s0, tf.tensor1d(labelBatch, 'int32'));
          }
          // Further float outputs (states, auxiliary heads) follow the teacher's values.
          for (const name of outputs.slice(1)) {
            const s = sOut.get(name)!;
            if (isWeightFloatType(s.dataType)) terms.hidden.push(meanSquaredError(s.tf, tTensors.get(name)!));
          }
          for (const l of links) {
            const sh = sOut.get(l.student)!.tf;
            const th = tTensors.get(l.teacher)!;
            const s2 = rows(sh);
            terms.hidden.push(meanSquaredError(l.projection ? tf.matMul(s2, l.projection) : s2, rows(th)));
          }
          const alpha = terms.hard ? opts.alpha : 1;
          return combineLoss(terms, alpha);
        }, varList);
        const lossValue = value.dataSync()[0]!;
        if (!Number.isFinite(lossValue)) return lossValue;
        const ordered = varList.map((v) => grads[v.name]!);
        const clipped = clipByGlobalNorm(ordered, opts.clipNorm);
        const byName = new Map<string, tf.Tensor>();
        names.forEach((n, i) => byName.set(n, clipped.grads[i]!));
        adam.step(byName, learningRate(adam.t, schedule));
        for (const [n, mask] of masks) {
          const v = vars.get(n)!;
          v.assign(tf.mul(v, mask));
        }
        return lossValue;
      });
    } finally {
      disposeAll(produced);
    }
  };

  const task0 = ctx.progress.start('distill', totalSteps);
  task0.tick(adam.t);
  const started = Date.now();
  const startStep = adam.t;
  let trainedSamples = 0;
  try {
    for (let epoch = epoch0; epoch < opts.epochs; epoch++) {
      const epochRng = rng.state;
      const order = shuffled(samples.count, rng);
      for (let b = epoch === epoch0 ? batch0 : 0; b < stepsPerEpoch; b++) {
        // Let a pending Ctrl-C (the CLI's abort signal) arrive between steps.
        await new Promise<void>((r) => setImmediate(r));
        if (opts.signal?.aborted) {
          save({ epoch, batch: b, rngState: epochRng, epochLoss, epochSeen });
          const where = `epoch ${epoch + 1}, batch ${b + 1} of ${stepsPerEpoch}`;
          throw opts.checkpoint !== undefined
            ? new DistillInterrupted(`distill interrupted at ${where}; checkpoint written to '${opts.checkpoint}'`, `continue with the same command plus --resume`)
            : new DistillInterrupted(`distill interrupted at ${where}; nothing was saved`, 'give --checkpoint <dir> to be able to resume an interrupted run');
        }
        const idx = order.subarray(b * batchSize, Math.min(samples.count, (b + 1) * batchSize));
        const feeds = batchFeeds(samples, idx);
        const labelBatch = labels ? Int32Array.from(idx, (i) => labels[i]!) : undefined;
        let loss: number;
        try {
          loss = step(feeds, labelBatch);
        } finally {
          disposeAll(Object.values(feeds));
        }
        if (!Number.isFinite(loss)) {
          throw new CompressError(`distill: the loss became ${loss} at epoch ${epoch + 1}, step ${adam.t + 1}`, ExitCode.failure, 'lower --lr (or --temperature) and run again');
        }
        epochLoss += loss * idx.length;
        epochSeen += idx.length;
        trainedSamples += idx.length;
        const elapsed = (Date.now() - started) / 1000;
        const rate = trainedSamples / Math.max(elapsed, 1e-3);
        const eta = ((totalSteps - adam.t) * elapsed) / Math.max(1, adam.t - startStep);
        task0.tick(1, `epoch ${epoch + 1}/${opts.epochs} · loss ${loss.toFixed(4)} · ${rate.toFixed(0)} samples/s · ETA ${seconds(eta)}`);
      }
      const record: Record<string, number> = { epoch: epoch + 1, loss: epochSeen > 0 ? epochLoss / epochSeen : NaN };
      if (evaluation) {
        const value = evaluation.run(student, false);
        record[evaluation.kind.name] = value;
        const better = best === undefined || (evaluation.kind.higherIsBetter ? value > best.value : value < best.value);
        if (better) {
          best = { value, epoch: epoch + 1 };
          bestWeights = snapshot();
        }
        logger.info(`distill: epoch ${epoch + 1}: loss ${record.loss!.toFixed(4)}, eval ${evaluation.kind.name} ${value.toFixed(4)}${better ? ' (best)' : ''}`);
      } else {
        logger.info(`distill: epoch ${epoch + 1}: loss ${record.loss!.toFixed(4)}`);
      }
      history.push(record);
      epochLoss = 0;
      epochSeen = 0;
      save({ epoch: epoch + 1, batch: 0, rngState: rng.state, epochLoss: 0, epochSeen: 0 });
    }
  } finally {
    task0.done();
  }

  // Keep the best evaluated epoch's weights (the last epoch's when nothing was evaluated).
  if (bestWeights && best && best.epoch !== history[history.length - 1]?.epoch) {
    logger.info(`distill: keeping the weights of epoch ${best.epoch} (best eval ${evaluation!.kind.name} ${best.value.toFixed(4)})`);
    restore(bestWeights, params);
  }
  student.commitVariables();
  const finalMetric = evaluation ? (best?.value ?? evaluation.run(student, false)) : undefined;
  evaluation?.dispose();

  const metricOf = (v: number | undefined) => (v === undefined || evaluation === undefined ? undefined : { [evaluation.kind.name]: v });
  const teacherParams = trainableTensors(teacherModel).reduce((a, t) => a + t.params, 0);
  const report: Record<string, unknown> = {
    distill: {
      task,
      epochs: opts.epochs,
      steps: totalSteps,
      batchSize,
      samples: samples.count,
      temperature: opts.temperature,
      alpha: labels || task === 'lm' ? opts.alpha : 1,
      hidden: opts.hidden,
      history,
      ...(best ? { bestEpoch: best.epoch } : {}),
      // The held-out comparison (the CLI may measure its own `metrics` on the training data).
      ...(evaluation ? { eval: { data: opts.evalData, metric: evaluation.kind.name, before: initialMetric ?? null, after: finalMetric, teacher: teacherMetric } } : {}),
    },
    teacher: { params: teacherParams, ...(teacherMetric !== undefined ? { metrics: metricOf(teacherMetric) } : {}) },
    student: { params: totalParams, trainedTensors: trainable.length, maskedTensors: masks.size },
  };
  if (evaluation) {
    report.metrics = { original: metricOf(initialMetric), compressed: metricOf(finalMetric), teacher: metricOf(teacherMetric) };
  }
  const layers = trainable.map((t) => ({ name: t.name, op: t.op, params: t.params, ...(t.sparsity !== undefined ? { sparsity: t.sparsity } : {}) }));
  return { model, modified: true, layers, warnings, report };
}

/** Evaluation on --eval-data: accuracy with labels, perplexity for an LM, else KL to the teacher. */
interface Evaluation {
  kind: MetricKind;
  /** The metric of `session` (`isTeacher`: the teacher itself, whose KL is 0 by definition). */
  run(session: Session, isTeacher: boolean): number;
  dispose(): void;
}

function openEvaluation(opts: DistillOptions, model: Model, task: string, ctx: DistillContext, batchSize: number, teacher: Session): Evaluation | undefined {
  if (opts.evalData === undefined) return undefined;
  const dataset = openDataset(opts.evalData, model, { seed: opts.seed, task: opts.task, logger: ctx.logger });
  const labels = opts.evalLabels !== undefined ? loadLabels(opts.evalLabels) : undefined;
  if (labels && labels.length < dataset.samples) throw new UsageError(`--eval-labels holds ${labels.length} labels for ${dataset.samples} eval samples`);
  const output = model.graph.outputs[0]!.name;
  const kind: MetricKind = labels ? { name: 'accuracy', higherIsBetter: true } : task === 'lm' ? { name: 'perplexity', higherIsBetter: false } : { name: 'kl', higherIsBetter: false };
  // KL needs the teacher's outputs: computed once and kept on the host.
  let teacherLogits: Float32Array[] | undefined;
  const logitsOf = (session: Session, feeds: Record<string, RTensor>): { data: Float32Array; dims: number[] } => {
    const out = session.runSync(feeds, { outputs: [output] });
    const t = out.get(output)!;
    const r = { data: t.float32().slice(), dims: t.dims.slice() };
    disposeAll(out.values());
    return r;
  };
  return {
    kind,
    run(session, isTeacher) {
      const s = createEval();
      let k = 0;
      for (const batch of dataset.batches(batchSize)) {
        const { data, dims } = logitsOf(session, batch.feeds);
        const c = dims[dims.length - 1]!;
        if (kind.name === 'accuracy') accumulateAccuracy(s, data, c, labels!.subarray(batch.start, batch.start + batch.size));
        else if (kind.name === 'perplexity') {
          const ids = batch.feeds[dataset.tokens ?? dataset.inputNames[0]!]!.host() as ArrayLike<number | bigint>;
          accumulateNll(s, data, ids, dims[0]!, dims[1]!, c);
        } else if (isTeacher) {
          s.count += data.length / c;
        } else {
          if (!teacherLogits) teacherLogits = [];
          if (teacherLogits[k] === undefined) teacherLogits[k] = logitsOf(teacher, batch.feeds).data;
          accumulateKl(s, data, teacherLogits[k]!, data.length / c, c);
        }
        disposeAll(Object.values(batch.feeds));
        k++;
      }
      return solveEval(s, kind.name);
    },
    dispose() {
      teacherLogits = undefined;
    },
  };
}
