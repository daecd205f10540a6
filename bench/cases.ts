/**
 * The benchmark's models and inputs, shared by `bench/run.ts` (throughput against onnxruntime) and
 * `bench/profile.ts` (time per op type).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataType } from '../src/core/dtype.js';
import { mulberry32 } from '../src/core/random.js';
import { RTensor } from '../src/runtime/value.js';

export interface Feed {
  type: 'float32' | 'int64';
  data: Float32Array | BigInt64Array;
  dims: number[];
}

export interface Case {
  name: string;
  /** A short name for --only. */
  key: string;
  path: string;
  inputs: () => Record<string, Feed>;
}

/** The repository root: the nearest folder above this file holding package.json (works from any build dir). */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir + '/';
}
const root = findRoot();

function floats(dims: number[], seed: number): Float32Array {
  const r = mulberry32(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

export const cases: Case[] = [
  { name: 'cnn fixture (batch 32)', key: 'cnn', path: `${root}fixtures/cnn/model.onnx`, inputs: () => ({ input: { type: 'float32', data: floats([32, 1, 28, 28], 1), dims: [32, 1, 28, 28] } }) },
  {
    name: 'lm fixture (batch 8 x 32 tokens)',
    key: 'lm',
    path: `${root}fixtures/lm/model.onnx`,
    inputs: () => {
      const r = mulberry32(2);
      return { input: { type: 'int64', data: BigInt64Array.from({ length: 8 * 32 }, () => BigInt(Math.floor(r() * 1000))), dims: [8, 32] } };
    },
  },
  { name: 'ppocr-rec-v4 (1x3x48x320)', key: 'ppocr', path: `${root}.cache/models/ppocr-rec-v4.onnx`, inputs: () => ({ x: { type: 'float32', data: floats([1, 3, 48, 320], 3), dims: [1, 3, 48, 320] } }) },
];

/**
 * `--model <onnx> --shape <d0>x<d1>...` adds a case for any single-input model (bench/profile.ts): float
 * inputs uniform in [-1, 1], int64 inputs token ids below `--vocab` (1000).
 */
export function modelCase(): Case | undefined {
  const path = arg('--model', '');
  if (path === '') return undefined;
  const dims = arg('--shape', '1').split('x').map(Number);
  const vocab = Number(arg('--vocab', '1000'));
  const input = arg('--input', 'input');
  const type = arg('--type', 'int64') as Feed['type'];
  return {
    name: `${path} (${dims.join('x')})`,
    key: 'model',
    path,
    inputs: () => {
      const r = mulberry32(4);
      const n = dims.reduce((a, b) => a * b, 1);
      const data = type === 'int64' ? BigInt64Array.from({ length: n }, () => BigInt(Math.floor(r() * vocab))) : floats(dims, 4);
      return { [input]: { type, data, dims } };
    },
  };
}

/** The feeds as executor tensors. */
export function rtensorFeeds(feeds: Record<string, Feed>): Record<string, RTensor> {
  const out: Record<string, RTensor> = {};
  for (const [k, v] of Object.entries(feeds)) out[k] = RTensor.fromHost(v.type === 'int64' ? DataType.INT64 : DataType.FLOAT, v.dims, v.data);
  return out;
}

/** The value of `--name` on the command line, or `dflt`. */
export function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}
