/**
 * Model files for the commands: load with the bytes on disk (model file + external data), save and
 * measure what was written. Imported lazily by the actions (it pulls in protobufjs through onnx/).
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Model } from '../../ir/model.js';
import { encodingOf, type ModelEncoding } from '../../onnx/encoding.js';
import { loadModel, saveModel, stageModel, type StagedModel } from '../../onnx/index.js';
import { allConstants, bytesOnDisk, tensorBytes, type FileBytes } from '../../report/size.js';

/** A loaded model and the bytes of the files it came from. */
export interface LoadedModel {
  model: Model;
  files: FileBytes;
}

/** The external data files a loaded model was read from (real paths), as onnx/load recorded them. */
export function externalFilesOf(model: Model): string[] {
  return encodingOf<ModelEncoding>(model.encoding, 'onnx.model')?.externalFiles.slice() ?? [];
}

/**
 * Loads a model file; its bytes count the model file and the external data files it references. The
 * summary's `path` is the path as the user gave it.
 */
export async function openModel(path: string): Promise<LoadedModel> {
  const model = await loadModel(path);
  return { model, files: { ...bytesOnDisk(resolve(path), externalFilesOf(model)), path } };
}

/**
 * Saves a model (creating the output folder) and returns the bytes written. A save writes an external
 * data file only when the model had external tensors or would pass protobuf's 2 GiB; in that case the
 * saved file is read back to learn exactly which data files it references.
 */
export async function writeModel(model: Model, out: string, force: boolean, hadExternal: boolean): Promise<FileBytes> {
  await mkdir(dirname(resolve(out)), { recursive: true });
  await saveModel(model, out, { force });
  const first = bytesOnDisk(resolve(out));
  if (!hadExternal && initializerBytes(model) < 2 ** 31 - 64 * 2 ** 20) return first;
  const reread = await loadModel(out);
  return bytesOnDisk(resolve(out), externalFilesOf(reread));
}

function initializerBytes(model: Model): number {
  let n = 0;
  for (const c of allConstants(model)) n += tensorBytes(c.tensor);
  return n;
}

/** A compressed model written to its staging folder: measured and checked there, then committed. */
export interface StagedOutput {
  staged: StagedModel;
  /** The staged files' bytes (paths inside the staging folder). */
  files: FileBytes;
  /** The same files under their final names, for the report once committed. */
  final: FileBytes;
}

/**
 * Writes a model into a staging folder beside `out` (creating the output folder), so that it can be
 * loaded and run in onnxruntime before it is renamed into place (`staged.commit()`), or dropped without a
 * trace (`staged.abort()`). External data is written (tensor by tensor) when `external` (the input had
 * it) or when the model would pass protobuf's 2 GiB.
 */
export async function stageOutput(model: Model, out: string, force: boolean, external: boolean): Promise<StagedOutput> {
  await mkdir(dirname(resolve(out)), { recursive: true });
  // A model that came with external data keeps its weights in a data file (its new ones included);
  // any other goes external only if it would pass protobuf's 2 GiB (saveModel's default).
  // What was written is dropped from memory (read back from the staged file if needed): the check then
  // holds the model once, in onnxruntime, not twice.
  const staged = await stageModel(model, out, { force, externalData: external ? { keepExternal: true } : undefined, releaseWritten: true });
  const files = bytesOnDisk(staged.files[0]!, staged.files.slice(1));
  const finalDir = dirname(resolve(out));
  const rename = (p: string) => resolve(finalDir, p.slice(dirname(staged.files[0]!).length + 1));
  const final: FileBytes = { path: out, bytes: files.bytes, files: files.files.map((f) => ({ path: rename(f.path), bytes: f.bytes })) };
  return { staged, files, final };
}
