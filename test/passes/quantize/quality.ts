/**
 * Quality harness for the slow tests: the fixtures' data as feed batches, and accuracy, perplexity and
 * agreement measured in onnxruntime-node (the runtime users deploy to; with its default optimizations,
 * which fuse QDQ into integer kernels).
 */
import * as ort from 'onnxruntime-node';
import { accuracy, perplexity } from '../../helpers/metrics.js';
import { readFileSync } from 'node:fs';
import { readNpy, type HostArray } from '../../../src/calibration/readers/npy.js';
import { RTensor } from '../../../src/runtime/value.js';
import type { FeedBatch } from '../../../src/passes/quantize/index.js';
import { concat, rows } from '../../helpers/data.js';
export { rows };

export { readNpy };

/** Calibration batches of an array for the input `name`. */
export function* batchesOf(a: HostArray, name: string, batchSize: number, samples = a.shape[0]!): Generator<FeedBatch> {
  for (let s = 0; s < Math.min(samples, a.shape[0]!); s += batchSize) {
    const r = rows(a, s, Math.min(s + batchSize, samples));
    yield { [name]: RTensor.fromHost(r.dataType, r.shape, r.data) };
  }
}

function ortType(a: HostArray): 'float32' | 'int64' {
  return a.data instanceof BigInt64Array ? 'int64' : 'float32';
}

/** An onnxruntime session on one thread (the machine is shared; results do not depend on threads). */
export async function ortSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
}

/** Runs `x` through the model in batches; returns the first output of every batch, concatenated. */
export async function logitsOf(bytes: Uint8Array, input: string, x: HostArray, batchSize = 100): Promise<{ data: Float32Array; dims: number[] }> {
  const s = await ortSession(bytes);
  const parts: Float32Array[] = [];
  let dims: number[] = [];
  for (let i = 0; i < x.shape[0]!; i += batchSize) {
    const r = rows(x, i, i + batchSize);
    const out = await s.run({ [input]: new ort.Tensor(ortType(r), r.data as Float32Array, r.shape) });
    const o = out[s.outputNames[0]!]!;
    parts.push(Float32Array.from(o.data as Float32Array));
    dims = o.dims.slice();
  }
  await s.release();
  dims[0] = x.shape[0]!;
  return { data: concat(parts), dims };
}



/** The printed text lines for ppocr-rec-v4 (data/make_text_lines.py), preprocessed as PaddleOCR does. */
export function textLines(dir: string): { x: HostArray; texts: string[] } {
  const img = readNpy(`${dir}/text_lines.npy`);
  const widths = readNpy(`${dir}/text_line_widths.npy`).data as BigInt64Array;
  const texts = JSON.parse(readFileSync(`${dir}/text_lines.json`, 'utf8')) as string[];
  const [n, H, W] = img.shape as [number, number, number];
  const x = new Float32Array(n * 3 * H * W);
  const u8 = img.data as Uint8Array;
  for (let i = 0; i < n; i++) {
    const w = Number(widths[i]!);
    for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) for (let j = 0; j < w; j++) x[((i * 3 + c) * H + y) * W + j] = u8[(i * H + y) * W + j]! / 127.5 - 1;
  }
  return { x: { dataType: 1, shape: [n, 3, H, W], data: x }, texts };
}

/** CTC greedy decoding: per row the argmax label sequence with repeats merged and blanks (0) dropped. */
export function ctcDecode(probs: Float32Array, dims: number[]): number[][] {
  const [n, T, C] = dims as [number, number, number];
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    const seq: number[] = [];
    let prev = -1;
    for (let t = 0; t < T; t++) {
      const base = (i * T + t) * C;
      let b = 0;
      for (let c = 1; c < C; c++) if (probs[base + c]! > probs[base + b]!) b = c;
      if (b !== prev && b !== 0) seq.push(b);
      prev = b;
    }
    out.push(seq);
  }
  return out;
}

export { accuracy, perplexity };
