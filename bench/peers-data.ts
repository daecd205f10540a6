/**
 * The models of the peer benchmark (bench/peers.ts) and, for each, the data both sides calibrate on and
 * the evaluator that scores every output in onnxruntime-node, whichever tool wrote it:
 *
 * - fixtures mlp and cnn: accuracy on their 1000 held-out Fashion-MNIST images; calibration calib_x.npy.
 * - fixture lm: perplexity on its 256 held-out rows; calibration calib_x.npy.
 * - ppocr-rec-v4: char accuracy (1 - edit distance / characters) of the CTC-decoded text against the text
 *   that was rendered, on printed lines (test/passes/quantize/data, made by make_text_lines.py): the
 *   first two thirds are scored, the last third calibrates.
 * - ppocr-cls-v2 (is a line upside down?): accuracy on the same lines, each upright and turned 180
 *   degrees, resized to 48 x 192 as PaddleOCR's classifier input.
 * - ppocr-det-v4: the same lines laid out four to a 256 x 640 page; the metric is the IoU of the text mask
 *   (probability > 0.3, DB's threshold) with the float model's mask, pooled over the pages.
 * - silero VAD v5 (16 kHz, 512-sample chunks, a recurrent state): there is no speech recording on the
 *   machine, so a synthetic one: voiced segments (harmonics of a gliding pitch shaped by two formants,
 *   syllable-rate envelope) between stretches of low noise, on which the float model's speech probability
 *   swings between 0 and 0.98. The metric is the mean |p - p_float| over the chunks, run statefully as
 *   the model is used; calibration feeds (chunk, state) pairs recorded from the float model on another
 *   such signal.
 *
 * Every calibration set is written once as an .npz (one array per model input name), the one file both
 * sides read.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import * as ort from 'onnxruntime-node';
import { readNpy, type HostArray } from '../src/calibration/readers/npy.js';
import { mulberry32 } from '../src/core/random.js';
import { float16ToFloat32Array } from '../src/onnx/dtypes.js';
import { accumulateAccuracy, accumulatePerplexity, createAccuracy, createPerplexity, solveAccuracy, solvePerplexity } from '../src/report/metrics.js';
import { npyBytes } from '../test/calibration/readers/npyfile.js';
import { concat, rows } from '../test/helpers/data.js';
import { ctcDecode, textLines } from '../test/passes/quantize/quality.js';
import { editDistance } from '../src/core/strings.js';

/** Levenshtein distance between two strings (src/core/strings.ts). */
export { editDistance };

/** How a model's quality is measured. */
export interface Metric {
  name: string;
  higherIsBetter: boolean;
  /** The value as printed in the table. */
  format(v: number): string;
}

/** One model of the benchmark, ready to run. */
export interface Workload {
  key: string;
  /** The ONNX file. */
  path: string;
  /** The calibration .npz both sides read (absent: no static or calibrated method applies). */
  calib?: string;
  /** Calibration batch size, the same on both sides. */
  batchSize: number;
  metric: Metric;
  /** The model file's quality, run in onnxruntime-node with its default optimizations. */
  evaluate(path: string): Promise<number>;
  /** Whether any MatMul has a constant weight (what MatMulNBitsQuantizer quantizes). */
  matmulWeights: boolean;
  /** What data scores and calibrates it, for the table's notes. */
  data: string;
  /** Each calibration sample is one whole feed (arrays with one more axis than the input): their reader feeds a[i]. */
  perSample?: boolean;
}

const percent: Metric['format'] = (v) => `${(v * 100).toFixed(1)} %`;
const accuracyMetric: Metric = { name: 'accuracy', higherIsBetter: true, format: percent };

/** One output of a run as float32 numbers (float16 outputs converted), with its dims. */
export interface Output {
  data: Float32Array;
  dims: number[];
}

function floats(t: ort.Tensor): Float32Array {
  if (t.type === 'float16') return float16ToFloat32Array(t.data as Uint16Array);
  if (t.type !== 'float32') throw new Error(`output of type ${t.type}: expected float32 or float16`);
  return t.data as Float32Array;
}

/** An onnxruntime session on one thread (the machine is shared; the scores do not depend on threads). */
export function ortSession(path: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
}

/** Runs `path` on each feed in turn and hands each first output to `take`. */
export async function runEach(path: string, feeds: Iterable<Record<string, ort.Tensor>>, take: (out: Output, index: number) => void): Promise<void> {
  const session = await ortSession(path);
  try {
    let i = 0;
    for (const f of feeds) {
      const out = await session.run(f);
      const t = out[session.outputNames[0]!]!;
      take({ data: floats(t), dims: t.dims.slice() }, i++);
    }
  } finally {
    await session.release();
  }
}

function tensorOf(a: HostArray): ort.Tensor {
  return a.data instanceof BigInt64Array ? new ort.Tensor('int64', a.data, a.shape) : new ort.Tensor('float32', a.data as Float32Array, a.shape);
}

/** Feeds of `batch` rows of `x` at a time for the input `name`. */
function* batchesOf(x: HostArray, name: string, batch: number): Generator<Record<string, ort.Tensor>> {
  for (let s = 0; s < x.shape[0]!; s += batch) yield { [name]: tensorOf(rows(x, s, s + batch)) };
}

/** Writes `arrays` (one per input name) as an .npz: numpy's zip of <name>.npy members, stored. */
export function writeNpz(path: string, arrays: Record<string, HostArray>): void {
  const members: Record<string, [Uint8Array, { level: 0 }]> = {};
  for (const [name, a] of Object.entries(arrays)) {
    const descr = a.data instanceof BigInt64Array ? '<i8' : a.data instanceof Float32Array ? '<f4' : undefined;
    if (!descr) throw new Error(`writeNpz: ${name} is neither float32 nor int64`);
    members[`${name}.npy`] = [npyBytes(descr, [...a.shape], new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength)), { level: 0 }];
  }
  writeFileSync(path, zipSync(members));
}

/** 1 - (summed edit distance) / (characters of the truth): the share of characters read right. */
export function charAccuracy(predicted: readonly string[], truth: readonly string[]): number {
  let dist = 0;
  let chars = 0;
  for (let i = 0; i < truth.length; i++) {
    dist += editDistance(predicted[i]!, truth[i]!);
    chars += [...truth[i]!].length;
  }
  return 1 - dist / chars;
}

/** Label sequences to text through PaddleOCR's character list: class k is line k (1-based), the class after the list a space. */
export function labelsToText(seqs: readonly number[][], keys: readonly string[]): string[] {
  return seqs.map((s) => s.map((k) => (k <= keys.length ? keys[k - 1]! : ' ')).join(''));
}

/** The fixture models: accuracy (mlp, cnn) or perplexity (lm) on held-out data, calibration on calib_x. */
function fixture(root: string, work: string, key: 'mlp' | 'cnn' | 'lm'): Workload {
  const dir = join(root, 'fixtures', key);
  const x = readNpy(join(dir, 'data', 'test_x.npy'));
  const calib = join(work, `${key}-calib.npz`);
  writeNpz(calib, { input: readNpy(join(dir, 'data', 'calib_x.npy')) });
  if (key === 'lm') {
    const ids = x.data as BigInt64Array;
    return {
      key,
      path: join(dir, 'model.onnx'),
      calib,
      batchSize: 32,
      matmulWeights: true,
      metric: { name: 'perplexity', higherIsBetter: false, format: (v) => v.toFixed(3) },
      data: 'perplexity on 256 held-out rows of 32 tokens (test_x); calibration on calib_x (256 rows)',
      async evaluate(path) {
        const s = createPerplexity();
        const per = x.shape[1]!;
        await runEach(path, batchesOf(x, 'input', 32), (o, b) => {
          const n = o.dims[0]!;
          accumulatePerplexity(s, o.data, ids.subarray(b * 32 * per, (b * 32 + n) * per), n, o.dims[1]!, o.dims[2]!);
        });
        return solvePerplexity(s)!;
      },
    };
  }
  const y = Array.from(readNpy(join(dir, 'data', 'test_y.npy')).data as BigInt64Array, Number);
  return {
    key,
    path: join(dir, 'model.onnx'),
    calib,
    batchSize: 32,
    matmulWeights: false,
    metric: accuracyMetric,
    data: 'accuracy on 1000 held-out Fashion-MNIST images (test_x); calibration on calib_x (256 images)',
    async evaluate(path) {
      const s = createAccuracy();
      await runEach(path, batchesOf(x, 'input', 100), (o, b) => accumulateAccuracy(s, o.data, o.dims[1]!, y.slice(b * 100, b * 100 + o.dims[0]!)));
      return solveAccuracy(s)!;
    },
  };
}

/** The rendered text lines: grey images [n, 48, 320] (white padding), the used widths and the texts. */
interface Lines {
  grey: Uint8Array;
  widths: number[];
  texts: string[];
  n: number;
  /** Lines [0, evalCount) are scored, the rest calibrate. */
  evalCount: number;
}

function loadLines(root: string): Lines {
  const dir = join(root, 'test', 'passes', 'quantize', 'data');
  const img = readNpy(join(dir, 'text_lines.npy'));
  const widths = Array.from(readNpy(join(dir, 'text_line_widths.npy')).data as BigInt64Array, Number);
  const texts = JSON.parse(readFileSync(join(dir, 'text_lines.json'), 'utf8')) as string[];
  const n = img.shape[0]!;
  return { grey: img.data as Uint8Array, widths, texts, n, evalCount: Math.round((n * 2) / 3) };
}

function ppocrRec(root: string, work: string, path: string): Workload {
  const keysPath = join(root, '.cache', 'models', 'ppocr-keys-v1.txt');
  if (!existsSync(keysPath)) throw new Error(`${keysPath} is missing: run node scripts/fetch-models.mjs`);
  const keys = readFileSync(keysPath, 'utf8').replace(/\r?\n$/, '').split(/\r?\n/);
  const lines = loadLines(root);
  const all = textLines(join(root, 'test', 'passes', 'quantize', 'data'));
  const x = rows(all.x, 0, lines.evalCount);
  const truth = all.texts.slice(0, lines.evalCount);
  const calib = join(work, 'ppocr-rec-calib.npz');
  writeNpz(calib, { x: rows(all.x, lines.evalCount, lines.n) });
  return {
    key: 'ppocr-rec',
    path,
    calib,
    batchSize: 8,
    matmulWeights: true,
    metric: { name: 'char accuracy', higherIsBetter: true, format: percent },
    data: `char accuracy against the rendered text of ${lines.evalCount} printed lines (make_text_lines.py); calibration on the other ${lines.n - lines.evalCount}`,
    async evaluate(p) {
      const texts: string[] = [];
      await runEach(p, batchesOf(x, 'x', 8), (o) => texts.push(...labelsToText(ctcDecode(o.data, o.dims), keys)));
      return charAccuracy(texts, truth);
    },
  };
}

/** Lines [from, to) as the classifier's input [2 * count, 3, 48, 192], each upright then turned 180 degrees; labels 0 and 1. */
function clsInputs(lines: Lines, from: number, to: number): { x: HostArray; labels: number[] } {
  const H = 48;
  const W = 192;
  const count = to - from;
  const data = new Float32Array(2 * count * 3 * H * W);
  const labels: number[] = [];
  for (let k = 0; k < count; k++) {
    const i = from + k;
    const w = lines.widths[i]!;
    // PaddleOCR's ClsResizeImg: height 48, width min(192, ceil(48 * aspect)) (the line is already 48 high), zero padding.
    const out = Math.min(W, w);
    for (const flip of [0, 1]) {
      const base = (2 * k + flip) * 3 * H * W;
      for (let y = 0; y < H; y++) {
        for (let j = 0; j < out; j++) {
          // Bilinear along x when the line is squeezed to 192.
          const sx = out === w ? j : ((j + 0.5) * w) / out - 0.5;
          const x0 = Math.max(0, Math.floor(sx));
          const x1 = Math.min(w - 1, x0 + 1);
          const f = Math.min(1, Math.max(0, sx - x0));
          const row = (i * H + y) * 320;
          const g = lines.grey[row + x0]! * (1 - f) + lines.grey[row + x1]! * f;
          const v = g / 127.5 - 1;
          const yy = flip ? H - 1 - y : y;
          const jj = flip ? out - 1 - j : j;
          for (let c = 0; c < 3; c++) data[base + (c * H + yy) * W + jj] = v;
        }
      }
      labels.push(flip);
    }
  }
  return { x: { dataType: 1, shape: [2 * count, 3, H, W], data }, labels };
}

function ppocrCls(root: string, work: string, path: string): Workload {
  const lines = loadLines(root);
  const test = clsInputs(lines, 0, lines.evalCount);
  const calib = join(work, 'ppocr-cls-calib.npz');
  writeNpz(calib, { x: clsInputs(lines, lines.evalCount, lines.n).x });
  return {
    key: 'ppocr-cls',
    path,
    calib,
    batchSize: 16,
    matmulWeights: false,
    metric: accuracyMetric,
    data: `accuracy on ${lines.evalCount} printed lines, each upright and turned 180 degrees (${2 * lines.evalCount} images); calibration on the other ${lines.n - lines.evalCount} lines, both ways`,
    async evaluate(p) {
      const s = createAccuracy();
      await runEach(p, batchesOf(test.x, 'x', 16), (o, b) => accumulateAccuracy(s, o.data, 2, test.labels.slice(b * 16, b * 16 + o.dims[0]!)));
      return solveAccuracy(s)!;
    },
  };
}

/** Lines [from, to) laid out four to a white 256 x 640 page (seeded offsets), normalized as PaddleOCR's detector input. */
function detPages(lines: Lines, from: number, to: number): HostArray {
  const H = 256;
  const W = 640;
  const per = 4;
  const pages = Math.ceil((to - from) / per);
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const grey = new Uint8Array(pages * H * W).fill(255);
  const rnd = mulberry32(12345);
  for (let i = from; i < to; i++) {
    const k = i - from;
    const page = Math.floor(k / per);
    const y0 = 8 + (k % per) * 62;
    const w = lines.widths[i]!;
    const x0 = 8 + Math.floor(rnd() * (W - 16 - w));
    for (let y = 0; y < 48; y++) for (let j = 0; j < w; j++) grey[(page * H + y0 + y) * W + x0 + j] = lines.grey[(i * 48 + y) * 320 + j]!;
  }
  const data = new Float32Array(pages * 3 * H * W);
  for (let p = 0; p < pages; p++)
    for (let c = 0; c < 3; c++) for (let q = 0; q < H * W; q++) data[(p * 3 + c) * H * W + q] = (grey[p * H * W + q]! / 255 - mean[c]!) / std[c]!;
  return { dataType: 1, shape: [pages, 3, H, W], data };
}

async function ppocrDet(root: string, work: string, path: string): Promise<Workload> {
  const lines = loadLines(root);
  const pages = detPages(lines, 0, lines.evalCount);
  const calib = join(work, 'ppocr-det-calib.npz');
  writeNpz(calib, { x: detPages(lines, lines.evalCount, lines.n) });
  const mask = async (p: string): Promise<Uint8Array> => {
    const parts: Float32Array[] = [];
    await runEach(p, batchesOf(pages, 'x', 2), (o) => parts.push(Float32Array.from(o.data)));
    return Uint8Array.from(concat(parts), (v) => (v > 0.3 ? 1 : 0));
  };
  const reference = await mask(path);
  return {
    key: 'ppocr-det',
    path,
    calib,
    batchSize: 2,
    matmulWeights: false,
    metric: { name: 'mask IoU vs float', higherIsBetter: true, format: percent },
    data: `IoU of the text mask (p > 0.3) with the float model's, on ${pages.shape[0]} pages of 4 printed lines (256 x 640); calibration on ${Math.ceil((lines.n - lines.evalCount) / 4)} pages of the other lines`,
    async evaluate(p) {
      const m = await mask(p);
      let inter = 0;
      let union = 0;
      for (let i = 0; i < m.length; i++) {
        inter += m[i]! & reference[i]!;
        union += m[i]! | reference[i]!;
      }
      return union === 0 ? 1 : inter / union;
    },
  };
}

/**
 * A synthetic voice-like signal at 16 kHz: `segments` pairs of low noise (0.6 s) and a voiced stretch
 * (1 s: harmonics of a pitch gliding +-10 % at 3 Hz, weighted by formants near 700 and 1200 Hz, under a
 * 4 Hz syllable envelope), the pitch rising by 15 Hz per segment from `f0`.
 */
export function voiceLike(segments: number, f0: number, seed: number): Float32Array {
  const sr = 16000;
  const r = mulberry32(seed);
  const noise = () => (r() + r() + r() + r() - 2) * 1.7 * 0.003;
  const out: number[] = [];
  for (let s = 0; s < segments; s++) {
    for (let i = 0; i < 0.6 * sr; i++) out.push(noise());
    const base = f0 + 15 * s;
    let phase = 0;
    for (let i = 0; i < sr; i++) {
      const t = i / sr;
      phase += (2 * Math.PI * base * (1 + 0.1 * Math.sin(2 * Math.PI * 3 * t))) / sr;
      let v = 0;
      for (let k = 1; k < 30; k++) {
        const w = Math.exp(-(((k * base - 700) / 400) ** 2)) / k + (0.5 * Math.exp(-(((k * base - 1200) / 500) ** 2))) / k;
        v += w * Math.sin(k * phase);
      }
      out.push(0.3 * v * Math.sqrt(Math.max(0, Math.sin(2 * Math.PI * 4 * t))) + noise());
    }
  }
  return Float32Array.from(out);
}

/** Runs silero statefully over `audio` in 512-sample chunks; returns each chunk's speech probability and the state it was fed. */
async function sileroRun(path: string, audio: Float32Array): Promise<{ probs: number[]; states: Float32Array[] }> {
  const session = await ortSession(path);
  try {
    let state = new Float32Array(2 * 128);
    const probs: number[] = [];
    const states: Float32Array[] = [];
    const sr = new ort.Tensor('int64', BigInt64Array.from([16000n]), []);
    for (let i = 0; i + 512 <= audio.length; i += 512) {
      states.push(state);
      const out = await session.run({ input: new ort.Tensor('float32', audio.slice(i, i + 512), [1, 512]), state: new ort.Tensor('float32', state, [2, 1, 128]), sr });
      probs.push(floats(out[session.outputNames[0]!]!)[0]!);
      state = Float32Array.from(floats(out[session.outputNames[1]!]!));
    }
    return { probs, states };
  } finally {
    await session.release();
  }
}

async function silero(work: string, path: string): Promise<Workload> {
  const test = voiceLike(8, 110, 1);
  const reference = (await sileroRun(path, test)).probs;
  // Calibration: every 4th chunk of another signal, with the state the float model carried into it.
  const calibAudio = voiceLike(4, 130, 2);
  const { states } = await sileroRun(path, calibAudio);
  const picks = states.map((_, i) => i).filter((i) => i % 4 === 0);
  const input = new Float32Array(picks.length * 512);
  const state = new Float32Array(picks.length * 256);
  picks.forEach((c, k) => {
    input.set(calibAudio.subarray(c * 512, c * 512 + 512), k * 512);
    state.set(states[c]!, k * 256);
  });
  const calib = join(work, 'silero-calib.npz');
  writeNpz(calib, {
    input: { dataType: 1, shape: [picks.length, 1, 512], data: input },
    state: { dataType: 1, shape: [picks.length, 2, 1, 128], data: state },
    sr: { dataType: 7, shape: [picks.length], data: new BigInt64Array(picks.length).fill(16000n) },
  });
  return {
    key: 'silero',
    path,
    calib,
    batchSize: 1,
    perSample: true,
    matmulWeights: false,
    metric: { name: 'mean |p - p_float|', higherIsBetter: false, format: (v) => v.toFixed(4) },
    data: `mean absolute difference of the speech probability from the float model's over ${reference.length} chunks of a synthetic voice-like signal (no recording on the machine), run statefully; calibration on ${picks.length} (chunk, state) pairs of another such signal`,
    async evaluate(p) {
      const probs = (await sileroRun(p, test)).probs;
      return probs.reduce((s, v, i) => s + Math.abs(v - reference[i]!), 0) / probs.length;
    },
  };
}

/** Every model key the benchmark knows, in table order. */
export const modelKeys = ['mlp', 'cnn', 'lm', 'ppocr-rec', 'ppocr-cls', 'ppocr-det', 'silero'] as const;

/** Prepares one model's data in `work`; throws with one line when its files are missing. */
export async function prepare(root: string, work: string, key: string): Promise<Workload> {
  const real = (name: string) => {
    const p = join(root, '.cache', 'models', `${name}.onnx`);
    if (!existsSync(p)) throw new Error(`${p} is missing: run node scripts/fetch-models.mjs`);
    return p;
  };
  switch (key) {
    case 'mlp':
    case 'cnn':
    case 'lm':
      return fixture(root, work, key);
    case 'ppocr-rec':
      return ppocrRec(root, work, real('ppocr-rec-v4'));
    case 'ppocr-cls':
      return ppocrCls(root, work, real('ppocr-cls-v2'));
    case 'ppocr-det':
      return ppocrDet(root, work, real('ppocr-det-v4'));
    case 'silero':
      return silero(work, real('silero-vad-v5'));
    default:
      throw new Error(`unknown model '${key}': expected one of ${modelKeys.join(', ')}`);
  }
}
