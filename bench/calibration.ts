/**
 * `npm run bench:calib`: static int8 calibration, every method of ours against each other and against
 * onnxruntime's own quantize_static, on the same models and the same calibration data, in one run.
 *
 * - ppocr-rec-v4 (text recognition): English text lines rendered at bench time (test/helpers/text-lines.ts:
 *   nlp-corpus sentences, DejaVu fonts, ImageMagick), read in PaddleOCR's batches; quality = character
 *   accuracy against the rendered text (whitespace-normalised; the raw one beside it). Calibration lines
 *   are disjoint from the scored ones.
 * - the CNN and MLP fixtures (Fashion-MNIST): calibration on fixtures/<name>/data/calib_x.npy (256
 *   training images); quality = accuracy on the official 10k test set (Debian's dataset-fashion-mnist),
 *   or on the fixture's 1000 test images when that package is absent.
 *
 * Ours: `quantize --calibration <m>` (auto, minmax, percentile, entropy, mse) through the API, timed wall
 * seconds. Theirs: bench/ort_static.py (quantize_static: minmax, percentile, entropy; per channel, QDQ
 * uint8/int8, each at onnxruntime's defaults), run with $PYTHON (default /work/venv/py/bin/python, then
 * python3); skipped with a message where Python or onnxruntime is missing. Every quantized model is
 * scored in onnxruntime-node. With --sets 2, every method of ours also calibrates on a second disjoint set
 * (ppocr: the next lines; fixtures: the other half of calib_x): the spread between the two is the noise a
 * difference must exceed to mean anything.
 *
 * Options: --only ppocr|cnn|mlp, --lines <scored lines> (400), --calib <lines per set> (64),
 * --sets 1|2 (1), --no-peer, --methods auto,minmax,... Prints one table (bytes, quality, seconds) and the
 * 1-minute load average before and after; peak RSS of this process, and of each onnxruntime run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import { defaultContext } from '../src/core/logger.js';
import type { HostArray } from '../src/calibration/readers/npy.js';
import { readNpy } from '../src/calibration/readers/npy.js';
import { loadModel, serializeModel } from '../src/onnx/index.js';
import { parseQuantizeOptions, quantize, type FeedBatch } from '../src/passes/quantize/index.js';
import { RTensor } from '../src/runtime/value.js';
import { npyBytes } from '../test/calibration/readers/npyfile.js';
import { rows } from '../test/helpers/data.js';
import { accuracy } from '../test/helpers/metrics.js';
import { repoRoot } from '../test/helpers/repo.js';
import { charAccuracy, recognize, renderedTextLines, textLineBatches, type TextLines } from '../test/helpers/text-lines.js';
import { arg } from './cases.js';

interface Case {
  key: string;
  name: string;
  path: string;
  /** Calibration sets: our feed batches, and the same batches for onnxruntime. */
  sets: { ours: FeedBatch[]; theirs: HostArray[] }[];
  metric: string;
  /** Scores a quantized model's bytes: the quality, and a second figure where there is one. */
  score: (bytes: Uint8Array) => Promise<{ quality: number; other?: number }>;
}

const root = repoRoot();
const batchOf = (a: HostArray, name: string): FeedBatch => ({ [name]: RTensor.fromHost(a.dataType, a.shape, a.data) });

function ppocrCase(scored: number, calib: number, sets: number): Case | undefined {
  const path = join(root, '.cache', 'models', 'ppocr-rec-v4.onnx');
  if (!existsSync(path)) {
    console.error('skipping ppocr-rec-v4: run npm run fetch-models');
    return undefined;
  }
  const lines: TextLines = renderedTextLines(calib * sets + scored, 1);
  const first = calib * sets;
  const truth = lines.texts.slice(first, first + scored);
  return {
    key: 'ppocr',
    name: `ppocr-rec-v4 (${scored} lines)`,
    path,
    // One width for every calibration batch: onnxruntime's histogram calibrators stack all batches.
    sets: Array.from({ length: sets }, (_, s) => {
      const b = textLineBatches(lines, s * calib, (s + 1) * calib, 8, lines.maxWidth).map((x) => x.x);
      return { ours: b.map((x) => batchOf(x, 'x')), theirs: b };
    }),
    metric: 'char accuracy',
    score: async (bytes) => {
      const read = await recognize(bytes, lines, first, first + scored);
      const raw = read.reduce((s, r, i) => s + (r === truth[i] ? 0 : 1), 0);
      return { quality: charAccuracy(read, truth), other: 1 - raw / scored };
    },
  };
}

/** The official Fashion-MNIST test set (10k) as the fixture's input, when Debian's package is installed. */
function fashionTest(shape: number[]): { x: HostArray; y: BigInt64Array } | undefined {
  const dir = '/usr/share/datasets/fashion-mnist';
  if (!existsSync(join(dir, 't10k-images-idx3-ubyte.gz'))) return undefined;
  const img = gunzipSync(readFileSync(join(dir, 't10k-images-idx3-ubyte.gz'))).subarray(16);
  const lab = gunzipSync(readFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'))).subarray(8);
  return { x: { dataType: 1, shape: [10000, ...shape], data: Float32Array.from(img, (v) => v / 255) }, y: BigInt64Array.from(lab, (v) => BigInt(v)) };
}

async function fixtureCase(name: 'cnn' | 'mlp', sets: number): Promise<Case> {
  const dir = join(root, 'fixtures', name);
  const path = join(dir, 'model.onnx');
  const input = (await loadModel(path)).graph.inputs[0]!.name;
  const calib = readNpy(join(dir, 'data', 'calib_x.npy'));
  const full = fashionTest(calib.shape.slice(1));
  const x = full?.x ?? readNpy(join(dir, 'data', 'test_x.npy'));
  const y = full?.y ?? (readNpy(join(dir, 'data', 'test_y.npy')).data as BigInt64Array);
  const per = Math.floor(calib.shape[0]! / sets);
  return {
    key: name,
    name: `${name} fixture (${y.length} test images)`,
    path,
    sets: Array.from({ length: sets }, (_, s) => {
      const b: HostArray[] = [];
      for (let i = s * per; i < (s + 1) * per; i += 32) b.push(rows(calib, i, Math.min(i + 32, (s + 1) * per)));
      return { ours: b.map((a) => batchOf(a, input)), theirs: b };
    }),
    metric: 'accuracy',
    score: async (bytes) => {
      const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
      const logits = new Float32Array(y.length * 10);
      for (let i = 0; i < y.length; i += 500) {
        const r = rows(x, i, i + 500);
        const out = await session.run({ [input]: new ort.Tensor('float32', r.data as Float32Array, r.shape) });
        logits.set(out[session.outputNames[0]!]!.data as Float32Array, i * 10);
      }
      await session.release();
      return { quality: accuracy(logits, 10, y) };
    },
  };
}

/** The python that runs onnxruntime's tools, or why there is none. */
function peerPython(): { python?: string; why?: string } {
  const candidates = [process.env.PYTHON, '/work/venv/py/bin/python', 'python3'].filter((p): p is string => !!p);
  for (const python of candidates) {
    try {
      execFileSync(python, ['-c', 'import onnx, onnxruntime.quantization'], { stdio: 'ignore' });
      return { python };
    } catch {
      // try the next one
    }
  }
  return { why: `no python with onnx and onnxruntime (tried ${candidates.join(', ')}; set PYTHON)` };
}

interface Row {
  model: string;
  tool: string;
  method: string;
  set: number;
  bytes: number | null;
  quality: number | null;
  other?: number | null;
  seconds: number | null;
  note?: string;
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0]!;
  const only = arg('--only', '');
  const sets = Number(arg('--sets', '1'));
  const methods = arg('--methods', 'auto,minmax,percentile,entropy,mse').split(',');
  const peer = process.argv.includes('--no-peer') ? { why: '--no-peer' } : peerPython();
  const cases: Case[] = [];
  if (!only || only === 'ppocr') {
    const c = ppocrCase(Number(arg('--lines', '400')), Number(arg('--calib', '64')), sets);
    if (c) cases.push(c);
  }
  for (const k of ['cnn', 'mlp'] as const) if (!only || only === k) cases.push(await fixtureCase(k, sets));
  const rowsOut: Row[] = [];
  const show = (r: Row) => {
    rowsOut.push(r);
    const q = r.quality === null ? '-' : r.quality.toFixed(4);
    console.error(`${r.model} | ${r.tool} ${r.method}${sets > 1 ? ` (set ${r.set + 1})` : ''} | ${q}${r.other !== undefined && r.other !== null ? ` (${r.other.toFixed(3)})` : ''} | ${r.bytes ?? '-'} B | ${r.seconds?.toFixed(1) ?? '-'} s${r.note ? ` | ${r.note}` : ''}`);
  };
  for (const c of cases) {
    const original = readFileSync(c.path);
    const f = await c.score(original);
    show({ model: c.name, tool: 'float', method: '-', set: 0, bytes: original.length, quality: f.quality, other: f.other, seconds: null });
    for (let s = 0; s < c.sets.length; s++) {
      for (const method of methods) {
        const t0 = performance.now();
        const m = await loadModel(c.path);
        await quantize(m, parseQuantizeOptions({ calibration: method }), { ...defaultContext, data: c.sets[s]!.ours });
        const bytes = serializeModel(m);
        const seconds = (performance.now() - t0) / 1000;
        const q = await c.score(bytes);
        show({ model: c.name, tool: 'ours', method: method === 'percentile' ? 'percentile 99.99' : method, set: s, bytes: bytes.length, quality: q.quality, other: q.other, seconds });
      }
    }
    if (!peer.python) {
      show({ model: c.name, tool: 'onnxruntime', method: 'quantize_static', set: 0, bytes: null, quality: null, seconds: null, note: `skipped: ${peer.why}` });
      continue;
    }
    const dir = mkdtempSync(join(tmpdir(), 'bench-calib-'));
    try {
      c.sets[0]!.theirs.forEach((b, k) => writeFileSync(join(dir, `batch_${k}.npy`), npyBytes('<f4', b.shape, new Uint8Array((b.data as Float32Array).buffer, (b.data as Float32Array).byteOffset, (b.data as Float32Array).byteLength))));
      for (const method of ['minmax', 'percentile', 'entropy']) {
        const out = join(dir, `${method}.onnx`);
        const res = execFileSync(peer.python, [join(root, 'bench', 'ort_static.py'), c.path, dir, out, '--method', method, '--per-channel'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 24 });
        const j = JSON.parse(res.trim().split('\n').pop()!) as { ok: boolean; seconds?: number; error?: string; peakRssMB?: number };
        const label = method === 'percentile' ? 'percentile 99.999' : method;
        if (!j.ok) {
          show({ model: c.name, tool: 'onnxruntime', method: label, set: 0, bytes: null, quality: null, seconds: null, note: `failed: ${j.error}` });
          continue;
        }
        const bytes = readFileSync(out);
        try {
          const q = await c.score(bytes);
          show({ model: c.name, tool: 'onnxruntime', method: label, set: 0, bytes: bytes.length, quality: q.quality, other: q.other, seconds: j.seconds!, note: `peak RSS ${j.peakRssMB} MB` });
        } catch (e) {
          show({ model: c.name, tool: 'onnxruntime', method: label, set: 0, bytes: bytes.length, quality: null, seconds: j.seconds!, note: `onnxruntime-node cannot run it: ${(e as Error).message.split('\n')[0]}` });
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const load = [loadBefore, loadavg()[0]!].map((l) => l.toFixed(2));
  console.log(`| model | tool | calibration | set | bytes | quality | seconds | note |`);
  console.log(`|---|---|---|---|---|---|---|---|`);
  for (const r of rowsOut) {
    const q = r.quality === null ? '-' : `${r.quality.toFixed(4)}${r.other !== undefined && r.other !== null ? ` (exact lines ${r.other.toFixed(3)})` : ''}`;
    console.log(`| ${r.model} | ${r.tool} | ${r.method} | ${r.tool === 'ours' ? r.set + 1 : '-'} | ${r.bytes ?? '-'} | ${q} | ${r.seconds === null ? '-' : r.seconds.toFixed(1)} | ${r.note ?? ''} |`);
  }
  // The acceptance the issue sets: auto within 0.3 points of our best named method, per model and set.
  for (const c of cases) {
    for (let s = 0; s < c.sets.length; s++) {
      const ours = rowsOut.filter((r) => r.model === c.name && r.tool === 'ours' && r.set === s && r.quality !== null);
      const auto = ours.find((r) => r.method === 'auto');
      const named = ours.filter((r) => r.method !== 'auto').sort((a, b) => b.quality! - a.quality!)[0];
      const theirs = rowsOut.filter((r) => r.model === c.name && r.tool === 'onnxruntime' && r.quality !== null).sort((a, b) => b.quality! - a.quality!)[0];
      if (auto && named) {
        console.log(
          `${c.name}${c.sets.length > 1 ? `, set ${s + 1}` : ''}: auto ${auto.quality!.toFixed(4)}, best named ${named.method} ${named.quality!.toFixed(4)} ` +
            `(auto ${((auto.quality! - named.quality!) * 100).toFixed(2)} points)` +
            (theirs ? `; onnxruntime's best ${theirs.method} ${theirs.quality!.toFixed(4)}, auto/theirs ${(auto.quality! / theirs.quality!).toFixed(4)}, bytes ${(auto.bytes! / theirs.bytes!).toFixed(3)}x` : ''),
        );
      }
    }
  }
  console.log(`${rowsOut.length} rows; peak RSS of this process ${Math.round(process.resourceUsage().maxRSS / 1024)} MB; 1-minute load average ${load[0]} before, ${load[1]} after`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
