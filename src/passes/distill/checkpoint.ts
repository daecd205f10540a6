/**
 * Distillation checkpoints: everything a resumed run needs to continue exactly where the interrupted one
 * stopped, as plain files a user can inspect with numpy:
 *
 *   <dir>/current/state.json        epoch, batch within it, optimiser step, RNG state, best metric, history
 *   <dir>/current/weights/<k>.npy   the trained tensors (students' initializers, then the projections)
 *   <dir>/current/adam_m/<k>.npy    Adam's first moments
 *   <dir>/current/adam_v/<k>.npy    Adam's second moments
 *   <dir>/current/best/<k>.npy      the weights of the best evaluated epoch (when there is one)
 *
 * `state.json` lists the tensor names in order; file k holds names[k] (names may contain any character).
 * A checkpoint is written into <dir>/next and then renamed over <dir>/current, so an interruption
 * during the write leaves the previous checkpoint whole.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataType } from '../../core/dtype.js';
import { UsageError } from '../../core/errors.js';
import { readNpy } from '../../calibration/readers/npy.js';

/** One tensor of a checkpoint. */
export interface NamedArray {
  name: string;
  dims: number[];
  data: Float32Array;
}

/** What a checkpoint's state.json holds. */
export interface CheckpointState {
  version: 1;
  /** Epoch to continue in (0-based). */
  epoch: number;
  /** First batch of `epoch` not yet trained on. */
  batch: number;
  /** Sum of per-sample losses and samples trained so far in `epoch` (the epoch's mean loss). */
  epochLoss: number;
  epochSeen: number;
  /** Optimiser steps taken (the schedule and Adam's bias correction continue from it). */
  step: number;
  /** RNG state at the start of `epoch` (its permutation is drawn again from it). */
  rngState: number;
  /** Best evaluation so far: its metric value and epoch. */
  best?: { value: number; epoch: number };
  /** Per-epoch records (mean loss, metric). */
  history: Record<string, number>[];
  /** Settings that must match for a resume (seed, batch size, epochs, sample count, tensor names). */
  fingerprint: Record<string, unknown>;
  /** Tensor names, in file order. */
  names: string[];
}

/** A whole checkpoint in memory. */
export interface Checkpoint {
  state: CheckpointState;
  weights: NamedArray[];
  adamM: NamedArray[];
  adamV: NamedArray[];
  best?: NamedArray[];
}

/** The bytes of a little-endian float32 .npy file (format 1.0). */
export function encodeNpyFloat32(dims: readonly number[], data: Float32Array): Uint8Array {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  // Magic (6) + version (2) + length (2) + header + '\n' is padded with spaces to a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

function writeArrays(dir: string, arrays: NamedArray[]): void {
  mkdirSync(dir, { recursive: true });
  arrays.forEach((a, k) => writeFileSync(join(dir, `${k}.npy`), encodeNpyFloat32(a.dims, a.data)));
}

function readArrays(dir: string, names: string[]): NamedArray[] {
  return names.map((name, k) => {
    const path = join(dir, `${k}.npy`);
    if (!existsSync(path)) throw new UsageError(`checkpoint file '${path}' (tensor '${name}') is missing`, 'the checkpoint is incomplete: start again without --resume');
    const a = readNpy(path, `'${path}'`);
    if (a.dataType !== DataType.FLOAT) throw new UsageError(`checkpoint file '${path}' is not float32`);
    return { name, dims: a.shape, data: new Float32Array(a.data as Float32Array) };
  });
}

/** Writes `ckpt` into `<dir>/current` (through `<dir>/next`). */
export function saveCheckpoint(dir: string, ckpt: Checkpoint): void {
  const next = join(dir, 'next');
  const current = join(dir, 'current');
  rmSync(next, { recursive: true, force: true });
  mkdirSync(next, { recursive: true });
  writeArrays(join(next, 'weights'), ckpt.weights);
  writeArrays(join(next, 'adam_m'), ckpt.adamM);
  writeArrays(join(next, 'adam_v'), ckpt.adamV);
  if (ckpt.best) writeArrays(join(next, 'best'), ckpt.best);
  writeFileSync(join(next, 'state.json'), JSON.stringify(ckpt.state, null, 1));
  rmSync(current, { recursive: true, force: true });
  renameSync(next, current);
}

/** Reads `<dir>/current`; a UsageError when there is none. */
export function loadCheckpoint(dir: string): Checkpoint {
  const current = join(dir, 'current');
  const statePath = join(current, 'state.json');
  if (!existsSync(statePath)) throw new UsageError(`--resume: no checkpoint in '${dir}' (expected ${statePath})`, 'run once with --checkpoint to create it, or drop --resume');
  let state: CheckpointState;
  try {
    state = JSON.parse(readFileSync(statePath, 'utf8')) as CheckpointState;
  } catch (e) {
    throw new UsageError(`--resume: '${statePath}' is not valid JSON (${(e as Error).message})`);
  }
  if (state.version !== 1 || !Array.isArray(state.names)) throw new UsageError(`--resume: '${statePath}' is not a distill checkpoint of version 1`);
  const ckpt: Checkpoint = {
    state,
    weights: readArrays(join(current, 'weights'), state.names),
    adamM: readArrays(join(current, 'adam_m'), state.names),
    adamV: readArrays(join(current, 'adam_v'), state.names),
  };
  if (state.best) ckpt.best = readArrays(join(current, 'best'), state.names);
  return ckpt;
}
