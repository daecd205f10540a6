/**
 * Data for calibration, evaluation and training (CLI.md --data, --labels): one entry point that opens
 * any supported source as a Dataset of batches of feeds.
 *
 * - `<file>.npy`: one array, first axis = samples, for single-input models;
 * - `<file>.npz`: one array per model input name (a single-input model also takes a single array of any name);
 * - a folder in the ONNX test layout: test_data_set_* / input_<k>.pb;
 * - `random:<n>`: n synthetic samples from the input shapes (random.ts).
 * A model that takes an attention mask, positions or past key/values beside its token ids is fed from the
 * ids alone with --task lm or auto (tokens.ts): the other inputs are filled as for a first step.
 * Every problem with the data is a UsageError (exit 2) naming the file and what is wrong.
 */
import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { DataType } from '../../core/dtype.js';
import { UsageError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Model } from '../../ir/model.js';
import { columnFromArrays, ColumnDataset, modelInputs, type Dataset } from './dataset.js';
import { readNpy, describeArray, type HostArray } from './npy.js';
import { readNpz } from './npz.js';
import { openRandom } from './random.js';
import { openTestData, testDataInputs } from './testdata.js';
import { planTokenFeeds, tokenInput, TokenFeedDataset, type TokenFeedPlan } from './tokens.js';

export { ortFeeds, modelInputs, type Batch, type Dataset, type InputSpec } from './dataset.js';
export { parseNpy, readNpy, type HostArray } from './npy.js';
export { parseNpz, readNpz } from './npz.js';
export { defaultSymbolicDim, defaultVocab } from './random.js';
export { fillFeeds, planTokenFeeds, tokenInput, TokenFeedDataset, type Fill, type FillKind, type TokenFeedPlan } from './tokens.js';

/** Options of openDataset. */
export interface OpenDatasetOptions {
  /** Use at most this many samples. */
  samples?: number;
  /** Seed of random:<n>. */
  seed?: number;
  /** Sizes for symbolic dims of random:<n> samples, by dim name. */
  dims?: Record<string, number>;
  /**
   * The --task (default auto). With lm, data of token ids alone feed a model that also takes an attention
   * mask, positions or past key/values: those are filled as for a first step (tokens.ts), and an input
   * that cannot be filled is an error. With auto, the same when the missing inputs are ones tokens.ts
   * recognises; classification and regression feed only what the data holds.
   */
  task?: 'auto' | 'classification' | 'lm' | 'regression';
  /** The size of the other symbolic dims (not the batch axis) of random:<n> samples (default 32). */
  symbolicDim?: number;
  logger?: Logger;
}

/**
 * Opens a --data spec for `model`: batches that feed every model input (see the header for the formats,
 * and tokens.ts for the inputs filled from token ids).
 */
export function openDataset(spec: string, model: Model, options: OpenDatasetOptions = {}): Dataset {
  const inputs = modelInputs(model);
  if (inputs.length === 0) throw new UsageError(`the model has no inputs to feed ${spec} to`);
  const task = options.task ?? 'auto';
  const fillable = task === 'auto' || task === 'lm';
  /** The plan for data that give the inputs named `given` (undefined: feed the data as they are). */
  const planFor = (given: Iterable<string>, label: string): TokenFeedPlan | undefined =>
    fillable ? planTokenFeeds(inputs, new Set(given), task === 'lm', label) : undefined;
  const wrap = (inner: Dataset, plan: TokenFeedPlan | undefined): Dataset => {
    if (!plan) return inner;
    const ds = new TokenFeedDataset(inner, plan, inputs);
    options.logger?.debug(`${inner.source}: token ids for '${plan.ids.name}'; filled as for a first step: ${ds.filled}`);
    return ds;
  };

  if (spec.startsWith('random:')) {
    const n = spec.slice('random:'.length);
    if (!/^\d+$/.test(n) || Number(n) < 1) throw new UsageError(`--data '${spec}': random:<n> needs a positive integer sample count`);
    const ids = fillable ? tokenInput(inputs) : undefined;
    const plan = ids ? planFor([ids.name], spec) : undefined;
    return wrap(openRandom(Number(n), model, plan ? plan.given : inputs, options), plan);
  }
  const label = `'${spec}'`;
  let isDir: boolean;
  try {
    isDir = statSync(spec).isDirectory();
  } catch {
    throw new UsageError(`--data ${label} does not exist`);
  }
  if (isDir) {
    const given = testDataInputs(spec, inputs);
    const plan = given.length < inputs.length ? planFor(given.map((i) => i.name), label) : undefined;
    return wrap(openTestData(spec, plan ? plan.given : inputs, options), plan);
  }
  const ext = extname(spec).toLowerCase();
  if (ext === '.npy') {
    const ids = inputs.length > 1 && fillable ? tokenInput(inputs) : undefined;
    const plan = ids ? planFor([ids.name], label) : undefined;
    if (inputs.length > 1 && !plan) {
      throw new UsageError(
        `${label} holds one array but the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')})`,
        'save one array per input name in an .npz (numpy.savez(path, **{name: array}))',
      );
    }
    const array = readNpy(spec, label);
    const input = plan ? plan.ids : inputs[0]!;
    return wrap(new ColumnDataset(label, [columnFromArrays([array], input, label, options.logger)], options), plan);
  }
  if (ext === '.npz') {
    const arrays = readNpz(spec, label);
    let given = inputs.filter((i) => arrays.has(i.name));
    // A single array of another name: the one input, or the token ids of a model whose other inputs are filled.
    let single: HostArray | undefined;
    if (given.length === 0 && arrays.size === 1) {
      single = [...arrays.values()][0];
      const ids = inputs.length === 1 ? inputs[0] : fillable ? tokenInput(inputs) : undefined;
      if (ids) given = [ids];
    }
    const plan = given.length > 0 && given.length < inputs.length ? planFor(given.map((i) => i.name), label) : undefined;
    const columns = (plan ? plan.given : inputs).map((input) => {
      const a = arrays.get(input.name) ?? single;
      if (!a) {
        throw new UsageError(`${label} has no array named '${input.name}' for that model input (it holds: ${[...arrays.keys()].join(', ')})`, 'name each array after its model input');
      }
      return columnFromArrays([a], input, `${label} array '${arrays.get(input.name) ? input.name : [...arrays.keys()][0]}'`, options.logger);
    });
    return wrap(new ColumnDataset(label, columns, options), plan);
  }
  throw new UsageError(`--data ${label}: unknown data format`, 'give a .npy, an .npz, a folder of test_data_set_*/input_<k>.pb, or random:<n>');
}

/**
 * Reads class labels: a .npy of integers, shape [n] or [n, 1]. Returned as Int32Array.
 */
export function loadLabels(path: string): Int32Array {
  const label = `'${path}'`;
  if (extname(path).toLowerCase() !== '.npy') throw new UsageError(`--labels ${label} must be a .npy file of integer class labels`);
  const a = readNpy(path, label);
  if (!(a.shape.length === 1 || (a.shape.length === 2 && a.shape[1] === 1))) {
    throw new UsageError(`--labels ${label} holds ${describeArray(a)}; labels are one integer per sample, shape [n] or [n, 1]`);
  }
  const integer = [DataType.INT8, DataType.UINT8, DataType.INT16, DataType.UINT16, DataType.INT32, DataType.UINT32, DataType.INT64, DataType.UINT64] as number[];
  if (!integer.includes(a.dataType)) throw new UsageError(`--labels ${label} holds ${describeArray(a)}; labels must be integers (save them with .astype(np.int64))`);
  const out = new Int32Array(a.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = Number(a.data[i]);
    if (v < 0 || v > 2147483647) throw new UsageError(`--labels ${label}: label ${v} at index ${i} is not a class index`);
    out[i] = v;
  }
  return out;
}
