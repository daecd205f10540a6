/**
 * Data for calibration, evaluation and training (CLI.md --data, --labels): one entry point that opens
 * any supported source as a Dataset of batches of feeds.
 *
 * - `<file>.npy`: one array, first axis = samples, for single-input models;
 * - `<file>.npz`: one array per model input name (a single-input model also takes a single array of any name);
 * - a folder in the ONNX test layout: test_data_set_* / input_<k>.pb;
 * - `random:<n>`: n synthetic samples from the input shapes (random.ts).
 * Every problem with the data is a UsageError (exit 2) naming the file and what is wrong.
 */
import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { DataType } from '../../core/dtype.js';
import { UsageError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Model } from '../../ir/model.js';
import { columnFromArrays, ColumnDataset, modelInputs, type Dataset } from './dataset.js';
import { readNpy, describeArray } from './npy.js';
import { readNpz } from './npz.js';
import { openRandom } from './random.js';
import { openTestData } from './testdata.js';

export { ortFeeds, modelInputs, type Batch, type Dataset, type InputSpec } from './dataset.js';
export { parseNpy, readNpy, type HostArray } from './npy.js';
export { parseNpz, readNpz } from './npz.js';
export { defaultSymbolicDim, defaultVocab } from './random.js';

/** Options of openDataset. */
export interface OpenDatasetOptions {
  /** Use at most this many samples. */
  samples?: number;
  /** Seed of random:<n>. */
  seed?: number;
  /** Sizes for symbolic dims of random:<n> samples, by dim name. */
  dims?: Record<string, number>;
  /** The size of the other symbolic dims (not the batch axis) of random:<n> samples (default 32). */
  symbolicDim?: number;
  logger?: Logger;
}

/** Opens a --data spec for `model`. */
export function openDataset(spec: string, model: Model, options: OpenDatasetOptions = {}): Dataset {
  const inputs = modelInputs(model);
  if (inputs.length === 0) throw new UsageError(`the model has no inputs to feed ${spec} to`);
  if (spec.startsWith('random:')) {
    const n = spec.slice('random:'.length);
    if (!/^\d+$/.test(n) || Number(n) < 1) throw new UsageError(`--data '${spec}': random:<n> needs a positive integer sample count`);
    return openRandom(Number(n), model, inputs, options);
  }
  const label = `'${spec}'`;
  let isDir: boolean;
  try {
    isDir = statSync(spec).isDirectory();
  } catch {
    throw new UsageError(`--data ${label} does not exist`);
  }
  if (isDir) return openTestData(spec, inputs, options);
  const ext = extname(spec).toLowerCase();
  if (ext === '.npy') {
    if (inputs.length > 1) {
      throw new UsageError(
        `${label} holds one array but the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')})`,
        'save one array per input name in an .npz (numpy.savez(path, **{name: array}))',
      );
    }
    const array = readNpy(spec, label);
    return new ColumnDataset(label, [columnFromArrays([array], inputs[0]!, label, options.logger)], options);
  }
  if (ext === '.npz') {
    const arrays = readNpz(spec, label);
    const single = inputs.length === 1 && arrays.size === 1 ? [...arrays.values()][0] : undefined;
    const columns = inputs.map((input) => {
      const a = arrays.get(input.name) ?? single;
      if (!a) {
        throw new UsageError(`${label} has no array named '${input.name}' for that model input (it holds: ${[...arrays.keys()].join(', ')})`, 'name each array after its model input');
      }
      return columnFromArrays([a], input, `${label} array '${arrays.get(input.name) ? input.name : [...arrays.keys()][0]}'`, options.logger);
    });
    return new ColumnDataset(label, columns, options);
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
