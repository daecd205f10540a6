/**
 * What every data reader produces: columns of samples, one per model input, cut into batches of feeds
 * on demand. A batch slices the columns (a view, not a copy, when the samples sit in one array), so a
 * 60 000-sample .npy costs its file's memory once, however many batches are taken.
 *
 * How an array lines up with a model input (shape [d0, d1, ...]):
 * - same rank: the first axis is the sample axis. If d0 is symbolic, a batch feeds [n, ...]; if d0 is a
 *   number (a model exported with batch 1, say), every batch feeds exactly d0 samples;
 * - one more axis than the input: each sample is a whole feed (batches of one sample);
 * - a scalar input and a 1-D array: one scalar per sample, fed whole.
 * The other axes must match the input's numeric dims; symbolic dims accept any size. Data of another
 * numeric type than the input's is converted once when that loses nothing that matters (ints to
 * floats, floats to float16, between integer types within range); floats are never turned into ids.
 */
import { DataType, dataTypeName, isFloatType } from '../../core/dtype.js';
import { UsageError } from '../../core/errors.js';
import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBfloat16Bits, float32ToFloat16Bits } from '../../core/float16.js';
import type { Logger } from '../../core/logger.js';
import type { Model } from '../../ir/model.js';
import { arrayTypeOf, type NumericArray } from '../../ir/tensor.js';
import type { Dim } from '../../ir/value.js';
import { toOrtLike, type OrtLikeTensor } from '../../runtime/feeds.js';
import { RTensor } from '../../runtime/value.js';
import type { HostArray } from './npy.js';

/** A model input as the readers see it. */
export interface InputSpec {
  name: string;
  /** undefined when the model does not say */
  dataType?: number;
  shape?: Dim[];
}

/** The inputs a caller must feed: graph inputs that are not initializers. */
export function modelInputs(model: Model): InputSpec[] {
  return model.graph.inputs.filter((v) => !v.initializer).map((v) => ({ name: v.name, dataType: v.elemType, shape: v.shape }));
}

/** "FLOAT [batch, 784]" for messages. */
export function describeInput(i: InputSpec): string {
  return `${i.dataType === undefined ? 'tensor' : dataTypeName(i.dataType)} [${(i.shape ?? ['?']).map((d) => (d === null ? '?' : d)).join(', ')}]`;
}

/** How a column's samples become a feed. */
export type Layout = { kind: 'batched' } | { kind: 'fixed'; batch: number } | { kind: 'whole' };

/** Samples for one input. */
export interface SampleColumn {
  readonly input: InputSpec;
  readonly dataType: number;
  /** Shape of one sample (without the sample axis). */
  readonly sampleShape: number[];
  readonly count: number;
  readonly layout: Layout;
  /** The data of samples [start, start + n), in the canonical array of `dataType`. */
  slice(start: number, n: number): NumericArray;
  /** Feed dims of sample `start` when samples differ in shape (whole feeds only). */
  dimsAt?(start: number): number[];
}

/** The dims of a feed of `n` samples. */
export function feedDims(column: SampleColumn, n: number): number[] {
  return column.layout.kind === 'whole' ? column.sampleShape.slice() : [n, ...column.sampleShape];
}

/** One batch of feeds. */
export interface Batch {
  /** Index of the first sample. */
  start: number;
  /** Samples in this batch. */
  size: number;
  feeds: Record<string, RTensor>;
}

/** A source of model feeds (CLI.md --data). */
export interface Dataset {
  /** What it reads, for messages ("'calib.npy'", "random:64"). */
  readonly source: string;
  /** True for random:<n>: results then say nothing about accuracy. */
  readonly synthetic: boolean;
  readonly inputNames: string[];
  /** The input fed the token ids, when the others were filled from them (tokens.ts). */
  readonly tokens?: string;
  /** What was filled, for messages ("attention_mask (ones), 4 past key/values (empty)"). */
  readonly filled?: string;
  /** Samples available (after --samples, and whole batches only for fixed-batch inputs). */
  readonly samples: number;
  /** The batch size actually used when `requested` is asked (fixed-batch inputs impose theirs). */
  batchSizeFor(requested: number): number;
  /** Batches of feeds, lazily, in order. */
  batches(batchSize: number): Generator<Batch>;
}

/** onnxruntime-shaped feeds of a batch (the same arrays, no copy). */
export function ortFeeds(batch: Batch): Record<string, OrtLikeTensor> {
  const out: Record<string, OrtLikeTensor> = {};
  for (const [k, v] of Object.entries(batch.feeds)) out[k] = toOrtLike(v);
  return out;
}

/** Decides how an array of `shape` (first axis = samples) feeds `input`; throws a UsageError naming both. */
export function layoutFor(shape: readonly number[], input: InputSpec, label: string, what: string): { layout: Layout; sampleShape: number[] } {
  const sample = shape.slice(1);
  const ishape = input.shape;
  const mismatch = () =>
    new UsageError(
      `${label} holds ${what} [${shape.join(', ')}] (samples of shape [${sample.join(', ')}]), but model input '${input.name}' is ${describeInput(input)}`,
      'the first axis counts samples; the others must match the input',
    );
  if (shape.length === 0) throw new UsageError(`${label} holds a scalar; the first axis must count samples`);
  if (ishape === undefined) return { layout: { kind: 'batched' }, sampleShape: sample };
  const fits = (dims: readonly number[], want: readonly Dim[]) => dims.length === want.length && want.every((d, i) => typeof d !== 'number' || d === dims[i]);
  if (ishape.length === 0) {
    if (shape.length === 1) return { layout: { kind: 'whole' }, sampleShape: [] };
    throw mismatch();
  }
  if (shape.length === ishape.length && fits(sample, ishape.slice(1))) {
    const d0 = ishape[0];
    if (typeof d0 === 'number' && d0 > 0) return { layout: { kind: 'fixed', batch: d0 }, sampleShape: sample };
    return { layout: { kind: 'batched' }, sampleShape: sample };
  }
  if (shape.length === ishape.length + 1 && fits(sample, ishape)) return { layout: { kind: 'whole' }, sampleShape: sample };
  throw mismatch();
}

const integerRanges: Partial<Record<number, [number, number]>> = {
  [DataType.INT8]: [-128, 127],
  [DataType.UINT8]: [0, 255],
  [DataType.INT16]: [-32768, 32767],
  [DataType.UINT16]: [0, 65535],
  [DataType.INT32]: [-2147483648, 2147483647],
  [DataType.UINT32]: [0, 4294967295],
  [DataType.INT64]: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  [DataType.UINT64]: [0, Number.MAX_SAFE_INTEGER],
};

function isIntegerType(t: number): boolean {
  return integerRanges[t] !== undefined;
}

/**
 * Converts canonical data of type `from` to type `to` (one copy), or throws when that would invent or
 * lose meaning (floats to ids, bools, out-of-range integers).
 */
export function convertData(data: NumericArray, from: number, to: number, label: string, input: string): NumericArray {
  if (from === to) return data;
  // numpy has no bfloat16: its bit patterns travel as uint16 (as ONNX's own test data stores them).
  if (from === DataType.UINT16 && to === DataType.BFLOAT16) return data;
  const fail = (why: string) => new UsageError(`${label} holds ${dataTypeName(from)} values but model input '${input}' takes ${dataTypeName(to)}: ${why}`);
  const read: (i: number) => number =
    from === DataType.FLOAT16
      ? (i) => float16BitsToFloat32(data[i] as number)
      : from === DataType.BFLOAT16
        ? (i) => bfloat16BitsToFloat32(data[i] as number)
        : (i) => Number(data[i]);
  const n = data.length;
  if (to === DataType.FLOAT || to === DataType.DOUBLE || to === DataType.FLOAT16 || to === DataType.BFLOAT16) {
    if (from === DataType.BOOL || !(isFloatType(from) || isIntegerType(from))) throw fail('convert it before saving');
    if (to === DataType.FLOAT16 || to === DataType.BFLOAT16) {
      const encode = to === DataType.FLOAT16 ? float32ToFloat16Bits : float32ToBfloat16Bits;
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = encode(read(i));
      return out;
    }
    const out = to === DataType.FLOAT ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = read(i);
    return out;
  }
  const range = integerRanges[to];
  if (range) {
    if (!isIntegerType(from)) throw fail(isFloatType(from) ? 'floats are not turned into integers; save the ids as integers' : 'convert it before saving');
    const Ctor = arrayTypeOf(to) as { new (n: number): NumericArray };
    const out = new Ctor(n);
    const big = to === DataType.INT64 || to === DataType.UINT64;
    for (let i = 0; i < n; i++) {
      const v = Number(data[i]);
      if (v < range[0] || v > range[1]) throw fail(`element ${i} (${v}) is out of range`);
      out[i] = (big ? BigInt(v) : v) as never;
    }
    return out;
  }
  throw fail('convert it before saving');
}

/** A column over one or more arrays that each start with the sample axis (test sets are several). */
export class ArrayColumn implements SampleColumn {
  readonly count: number;
  private readonly sampleSize: number;
  private readonly starts: number[] = [];

  constructor(
    readonly input: InputSpec,
    readonly dataType: number,
    readonly sampleShape: number[],
    readonly layout: Layout,
    private readonly chunks: { data: NumericArray; count: number }[],
  ) {
    this.sampleSize = sampleShape.reduce((a, b) => a * b, 1);
    let c = 0;
    for (const ch of chunks) {
      this.starts.push(c);
      c += ch.count;
    }
    this.count = c;
  }

  slice(start: number, n: number): NumericArray {
    const s = this.sampleSize;
    // Within one chunk: a view.
    for (let k = 0; k < this.chunks.length; k++) {
      const ch = this.chunks[k]!;
      const first = this.starts[k]!;
      if (start >= first && start + n <= first + ch.count) return ch.data.subarray((start - first) * s, (start - first + n) * s) as NumericArray;
    }
    // Across chunks: one copy of just this batch.
    const Ctor = arrayTypeOf(this.dataType) as { new (n: number): NumericArray };
    const out = new Ctor(n * s);
    let filled = 0;
    for (let k = 0; k < this.chunks.length && filled < n; k++) {
      const ch = this.chunks[k]!;
      const first = this.starts[k]!;
      const from = Math.max(start + filled, first);
      const to = Math.min(start + n, first + ch.count);
      if (to <= from) continue;
      (out as Float32Array).set(ch.data.subarray((from - first) * s, (to - first) * s) as unknown as Float32Array, filled * s);
      filled += to - from;
    }
    return out;
  }
}

/** Builds the column for `input` from arrays (chunks) that share a per-sample shape. */
export function columnFromArrays(arrays: HostArray[], input: InputSpec, label: string, logger?: Logger): ArrayColumn {
  const first = arrays[0]!;
  const what = dataTypeName(first.dataType);
  const { layout, sampleShape } = layoutFor(first.shape, input, label, what);
  const chunks: { data: NumericArray; count: number }[] = [];
  let converted = false;
  for (const a of arrays) {
    if (a.shape.slice(1).join(',') !== first.shape.slice(1).join(',')) {
      throw new UsageError(`${label}: samples for input '${input.name}' differ in shape ([${first.shape.join(', ')}] and [${a.shape.join(', ')}]); they cannot be batched together`);
    }
    const to = input.dataType ?? a.dataType;
    const data = convertData(a.data, a.dataType, to, label, input.name);
    converted ||= data !== a.data;
    chunks.push({ data, count: a.shape[0]! });
  }
  if (converted) logger?.debug(`${label}: ${dataTypeName(first.dataType)} data converted to ${dataTypeName(input.dataType!)} for input '${input.name}'`);
  return new ArrayColumn(input, input.dataType ?? first.dataType, sampleShape, layout, chunks);
}

/** Batches over columns of equal length (all readers end here). */
export class ColumnDataset implements Dataset {
  readonly inputNames: string[];
  readonly samples: number;
  readonly synthetic: boolean;
  private readonly forced?: number;

  constructor(
    readonly source: string,
    private readonly columns: SampleColumn[],
    options: { samples?: number; synthetic?: boolean; logger?: Logger } = {},
  ) {
    this.synthetic = options.synthetic ?? false;
    this.inputNames = columns.map((c) => c.input.name);
    const counts = new Set(columns.map((c) => c.count));
    if (counts.size > 1) {
      throw new UsageError(`${source}: the inputs have different sample counts (${columns.map((c) => `${c.input.name}: ${c.count}`).join(', ')})`);
    }
    const forced = new Map<number, string>();
    for (const c of columns) {
      const b = c.layout.kind === 'fixed' ? c.layout.batch : c.layout.kind === 'whole' ? 1 : undefined;
      if (b !== undefined) forced.set(b, c.input.name);
    }
    if (forced.size > 1) {
      throw new UsageError(`${source}: the model's inputs fix different batch sizes (${[...forced].map(([b, n]) => `${n}: ${b}`).join(', ')}); they cannot be fed together`);
    }
    this.forced = forced.size === 1 ? [...forced.keys()][0] : undefined;
    let n = Math.min(columns[0]?.count ?? 0, options.samples ?? Infinity);
    if (this.forced !== undefined && this.forced > 1 && n % this.forced !== 0) {
      const usable = n - (n % this.forced);
      options.logger?.warn(`${source}: the model takes batches of exactly ${this.forced}; the last ${n - usable} samples are left out`);
      n = usable;
    }
    this.samples = n;
  }

  batchSizeFor(requested: number): number {
    return this.forced ?? Math.max(1, Math.floor(requested));
  }

  *batches(batchSize: number): Generator<Batch> {
    const b = this.batchSizeFor(batchSize);
    for (let start = 0; start < this.samples; start += b) {
      const size = Math.min(b, this.samples - start);
      const feeds: Record<string, RTensor> = {};
      for (const c of this.columns) feeds[c.input.name] = RTensor.fromHost(c.dataType, c.dimsAt ? c.dimsAt(start) : feedDims(c, size), c.slice(start, size));
      yield { start, size, feeds };
    }
  }
}

/**
 * A column whose every sample is one whole feed of its own shape (the sets of an ONNX test folder for
 * models without a batch axis). Batches hold one sample.
 */
export class FeedColumn implements SampleColumn {
  readonly layout: Layout = { kind: 'whole' };
  readonly sampleShape: number[];
  readonly count: number;

  constructor(
    readonly input: InputSpec,
    readonly dataType: number,
    private readonly feeds: { dims: number[]; data: NumericArray }[],
  ) {
    this.count = feeds.length;
    this.sampleShape = feeds[0]?.dims.slice() ?? [];
  }

  slice(start: number, n: number): NumericArray {
    if (n !== 1) throw new Error(`whole feeds are taken one at a time (asked for ${n})`);
    return this.feeds[start]!.data;
  }

  dimsAt(start: number): number[] {
    return this.feeds[start]!.dims.slice();
  }
}

/** Whole feeds for `input`, each checked against the input's numeric dims and converted to its type. */
export function feedColumn(arrays: HostArray[], input: InputSpec, labels: string[], logger?: Logger): FeedColumn {
  const feeds = arrays.map((a, k) => {
    const want = input.shape;
    if (want && (want.length !== a.shape.length || want.some((d, i) => typeof d === 'number' && d !== a.shape[i]))) {
      throw new UsageError(`${labels[k]} holds ${dataTypeName(a.dataType)} [${a.shape.join(', ')}], but model input '${input.name}' is ${describeInput(input)}`);
    }
    const to = input.dataType ?? a.dataType;
    const data = convertData(a.data, a.dataType, to, labels[k]!, input.name);
    if (data !== a.data) logger?.debug(`${labels[k]}: ${dataTypeName(a.dataType)} data converted to ${dataTypeName(to)} for input '${input.name}'`);
    return { dims: a.shape.slice(), data };
  });
  return new FeedColumn(input, input.dataType ?? arrays[0]!.dataType, feeds);
}
