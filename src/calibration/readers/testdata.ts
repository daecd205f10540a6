/**
 * A folder in the ONNX test layout (onnx/backend/test/data/node/*, and our fixtures/):
 *
 *   <folder>/test_data_set_0/input_0.pb, input_1.pb, ...   (serialized TensorProto, one per model input)
 *   <folder>/test_data_set_1/...
 *
 * When every model input has a symbolic first dim (a batch axis), the sets are samples along it, like
 * a .npy, and batches may span sets. Otherwise (fixed shapes, scalars, weights fed as inputs: the ONNX
 * node tests) each set is one whole feed, and a batch is one set. A tensor whose name is one of the
 * model's inputs goes to that input; a nameless one goes by its index k to the k-th input. The path may
 * also be one test_data_set_* folder itself. A folder may hold only the token ids of a model whose other
 * inputs are filled from them (tokens.ts, testDataInputs).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DataType } from '../../core/dtype.js';
import { CompressError, UsageError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { NumericArray } from '../../ir/tensor.js';
import { readTensorProto } from '../../onnx/index.js';
import { columnFromArrays, ColumnDataset, feedColumn, type InputSpec } from './dataset.js';
import type { HostArray } from './npy.js';

const SET = /^test_data_set_(\d+)$/;
const INPUT = /^input_(\d+)\.pb$/;

/** The test_data_set_* folders under `dir` (or `dir` itself when it is one), in numeric order. */
export function testDataSets(dir: string, label: string): string[] {
  if (SET.test(basename(dir))) return [dir];
  const sets = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && SET.test(e.name))
    .map((e) => e.name)
    .sort((a, b) => Number(SET.exec(a)![1]) - Number(SET.exec(b)![1]));
  if (sets.length === 0) {
    throw new UsageError(`${label} is a folder without test_data_set_* subfolders`, 'the ONNX test layout is <folder>/test_data_set_0/input_0.pb, ...');
  }
  return sets.map((s) => join(dir, s));
}

/** Reads one set's input_<k>.pb tensors, in k order, as host arrays with the name each file gave. */
export function readTestDataSet(setDir: string): { name: string; file: string; array: HostArray }[] {
  const files = readdirSync(setDir)
    .filter((f) => INPUT.test(f))
    .sort((a, b) => Number(INPUT.exec(a)![1]) - Number(INPUT.exec(b)![1]));
  if (files.length === 0) throw new UsageError(`'${setDir}' has no input_<k>.pb files`);
  return files.map((f, k) => {
    const file = join(setDir, f);
    if (Number(INPUT.exec(f)![1]) !== k) throw new UsageError(`'${setDir}' skips input_${k}.pb (found ${f})`);
    let tensor;
    try {
      tensor = readTensorProto(readFileSync(file), `'${file}'`);
    } catch (e) {
      if (e instanceof CompressError) throw new UsageError(e.message, e.hint);
      throw new UsageError(`cannot read '${file}': ${(e as Error).message}`);
    }
    if (tensor.dataType === DataType.STRING) throw new UsageError(`'${file}' holds strings; only numeric inputs are read`);
    return { name: tensor.name, file, array: { dataType: tensor.dataType, shape: tensor.dims.slice(), data: tensor.data as NumericArray } };
  });
}

/**
 * The model inputs a test-layout folder gives (from its first set): those its tensors name when every
 * name is a model input, else the first k inputs for k tensors. Fewer than the model's inputs when the
 * folder holds only token ids for a model whose other inputs are filled (tokens.ts).
 */
export function testDataInputs(dir: string, inputs: InputSpec[]): InputSpec[] {
  const first = readTestDataSet(testDataSets(dir, `'${dir}'`)[0]!);
  const names = new Set(first.map((t) => t.name));
  if (first.every((t) => inputs.some((i) => i.name === t.name)) && names.size === first.length) return inputs.filter((i) => names.has(i.name));
  return inputs.slice(0, first.length);
}

/** Opens a test-layout folder as a dataset for `inputs`. */
export function openTestData(dir: string, inputs: InputSpec[], options: { samples?: number; logger?: Logger } = {}): ColumnDataset {
  const label = `'${dir}'`;
  if (!statSync(dir).isDirectory()) throw new UsageError(`${label} is not a folder`);
  const sets = testDataSets(dir, label).map((s) => ({ dir: s, tensors: readTestDataSet(s) }));
  const perInput = new Map<string, HostArray[]>(inputs.map((i) => [i.name, []]));
  const files = new Map<string, string[]>(inputs.map((i) => [i.name, []]));
  for (const set of sets) {
    if (set.tensors.length !== inputs.length) {
      throw new UsageError(`'${set.dir}' holds ${set.tensors.length} input tensors but the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')})`);
    }
    const names = new Set(inputs.map((i) => i.name));
    const byName = set.tensors.every((t) => names.has(t.name)) && new Set(set.tensors.map((t) => t.name)).size === inputs.length;
    set.tensors.forEach((t, k) => {
      const name = byName ? t.name : inputs[k]!.name;
      perInput.get(name)!.push(t.array);
      files.get(name)!.push(`'${t.file}'`);
    });
  }
  const batched = inputs.every((i) => i.shape !== undefined && i.shape.length > 0 && typeof i.shape[0] !== 'number');
  const columns = inputs.map((i) =>
    batched ? columnFromArrays(perInput.get(i.name)!, i, label, options.logger) : feedColumn(perInput.get(i.name)!, i, files.get(i.name)!, options.logger),
  );
  return new ColumnDataset(label, columns, options);
}
