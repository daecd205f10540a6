/**
 * `random:<n>`: n synthetic samples drawn from the model's input shapes, for trying a command out on a
 * model without data. The numbers say nothing about accuracy (the CLI warns loudly).
 *
 * - float inputs: standard normal values (float16 inputs get them rounded to float16);
 * - integer inputs: token ids uniform in [0, vocab), where vocab is the row count of the embedding table
 *   the input indexes (a Gather of an initializer), else [0, 100); uint8 inputs uniform in [0, 255],
 *   int8 in [-128, 127]; bool inputs 0 or 1;
 * - a symbolic first dim is the batch axis; other symbolic (or unknown) dims take `dims[name]` when
 *   given, else `defaultSymbolicDim` (32, a multiple of the strides detection and OCR models need).
 *
 * Each sample of each input has its own seeded stream, so the values do not depend on the batch size.
 */
import { DataType, dataTypeName, isFloatType } from '../../core/dtype.js';
import { mulberry32 } from '../../core/random.js';
import { UsageError } from '../../core/errors.js';
import { float32ToBfloat16Bits, float32ToFloat16Bits } from '../../core/float16.js';
import type { Logger } from '../../core/logger.js';
import type { Model } from '../../ir/model.js';
import { arrayTypeOf, type NumericArray } from '../../ir/tensor.js';
import { ColumnDataset, describeInput, type InputSpec, type Layout, type SampleColumn } from './dataset.js';

/** The size given to symbolic dims other than the batch axis. */
export const defaultSymbolicDim = 32;

/** Ids are drawn from [0, defaultVocab) when the model does not show its vocabulary size. */
export const defaultVocab = 100;

export { mulberry32 };

/** Mixes integers into one 32-bit seed (a murmur3-style finalizer over each part). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** The vocabulary size an integer input indexes, when it feeds a Gather of an initializer. */
export function vocabSizeOf(model: Model, inputName: string): number | undefined {
  const v = model.graph.value(inputName);
  for (const use of v?.uses ?? []) {
    if (use.node.opType !== 'Gather' || use.index !== 1) continue;
    const table = use.node.input(0)?.initializer;
    if (!table) continue;
    const axis = use.node.attrInt('axis', 0);
    const d = table.dims[axis < 0 ? axis + table.dims.length : axis];
    if (d !== undefined && d > 0) return d;
  }
  return undefined;
}

class RandomColumn implements SampleColumn {
  private readonly sampleSize: number;

  constructor(
    readonly input: InputSpec,
    readonly dataType: number,
    readonly sampleShape: number[],
    readonly layout: Layout,
    readonly count: number,
    private readonly seed: number,
    private readonly index: number,
    private readonly vocab: number,
  ) {
    this.sampleSize = sampleShape.reduce((a, b) => a * b, 1);
  }

  slice(start: number, n: number): NumericArray {
    const Ctor = arrayTypeOf(this.dataType) as { new (n: number): NumericArray };
    const out = new Ctor(n * this.sampleSize);
    const t = this.dataType;
    for (let s = 0; s < n; s++) {
      const rand = mulberry32(mixSeed(this.seed, this.index, start + s));
      const base = s * this.sampleSize;
      for (let j = 0; j < this.sampleSize; j++) {
        let v: number;
        if (isFloatType(t)) {
          // Box-Muller: a standard normal from two uniforms.
          const u = 1 - rand();
          v = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
          if (t === DataType.FLOAT16) v = float32ToFloat16Bits(v);
          else if (t === DataType.BFLOAT16) v = float32ToBfloat16Bits(v);
        } else if (t === DataType.BOOL) v = rand() < 0.5 ? 0 : 1;
        else if (t === DataType.UINT8) v = Math.floor(rand() * 256);
        else if (t === DataType.INT8) v = Math.floor(rand() * 256) - 128;
        else v = Math.floor(rand() * this.vocab);
        out[base + j] = (t === DataType.INT64 || t === DataType.UINT64 ? BigInt(v) : v) as never;
      }
    }
    return out;
  }
}

const supported = new Set<number>([
  DataType.FLOAT,
  DataType.DOUBLE,
  DataType.FLOAT16,
  DataType.BFLOAT16,
  DataType.INT8,
  DataType.UINT8,
  DataType.INT16,
  DataType.UINT16,
  DataType.INT32,
  DataType.UINT32,
  DataType.INT64,
  DataType.UINT64,
  DataType.BOOL,
]);

/** Opens `random:<n>` for a model. */
export function openRandom(
  count: number,
  model: Model,
  inputs: InputSpec[],
  options: { seed?: number; samples?: number; dims?: Record<string, number>; symbolicDim?: number; logger?: Logger } = {},
): ColumnDataset {
  const seed = options.seed ?? 0;
  const other = options.symbolicDim ?? defaultSymbolicDim;
  const dimOf = (d: unknown) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' && options.dims?.[d] !== undefined ? options.dims[d]! : other);
  const columns = inputs.map((input, index) => {
    const t = input.dataType ?? DataType.FLOAT;
    if (!supported.has(t)) {
      throw new UsageError(`random:${count} cannot make ${dataTypeName(t)} values for input '${input.name}'`, 'give real samples with --data');
    }
    const shape = input.shape;
    if (shape === undefined) throw new UsageError(`random:${count}: model input '${input.name}' has no shape to draw samples from`, 'give real samples with --data');
    let layout: Layout;
    let sampleShape: number[];
    if (shape.length === 0) {
      layout = { kind: 'whole' };
      sampleShape = [];
    } else if (typeof shape[0] === 'number' && shape[0] > 0) {
      layout = { kind: 'fixed', batch: shape[0] };
      sampleShape = shape.slice(1).map(dimOf);
    } else {
      layout = { kind: 'batched' };
      sampleShape = shape.slice(1).map(dimOf);
    }
    const vocab = vocabSizeOf(model, input.name) ?? defaultVocab;
    options.logger?.debug(`random:${count}: input '${input.name}' ${describeInput(input)} -> samples [${sampleShape.join(', ')}]${isFloatType(t) ? '' : `, values in [0, ${vocab})`}`);
    return new RandomColumn(input, t, sampleShape, layout, count, seed, index, vocab);
  });
  return new ColumnDataset(`random:${count}`, columns, { samples: options.samples, synthetic: true, logger: options.logger });
}
