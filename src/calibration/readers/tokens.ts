/**
 * Token ids alone for models as exporters publish them (issue 14, item 9). A decoder exported for
 * generation takes more than `input_ids`: an `attention_mask`, `position_ids`, one past key and value per
 * layer (`past_key_values.<i>.key`, empty for the first step), sometimes `cache_position`, or a
 * `use_cache_branch` flag that picks a branch of an If (optimum's "merged" decoder). Given the ids of a
 * first step, every one of those has exactly one right value:
 *
 * | input                              | filled with                                                  |
 * |------------------------------------|--------------------------------------------------------------|
 * | attention_mask                     | ones [batch, past + seq]                                     |
 * | position_ids                       | past, past + 1, ... [batch, seq] (or [1, seq], [seq])        |
 * | cache_position                     | past, past + 1, ... [seq]                                    |
 * | past_key_values.* / past_* / *cache* | zeros of length 0 along the sequence axis (no past)        |
 * | use_cache_branch                   | false (true when the data gives a past)                      |
 * | token_type_ids                     | zeros [batch, seq]                                           |
 *
 * so calibration (our executor) and evaluation (onnxruntime) can run such a model from an .npy of ids.
 * Inputs are recognised by the names real exporters use (Hugging Face optimum, torch's dynamo exporter,
 * onnxruntime-genai, transformers.js), checked against their type and rank. `past` is the length of a
 * past the data gives itself (an .npz holding the past arrays); 0 otherwise.
 *
 * Dims: the ids feed fixes the batch and sequence sizes; a past tensor's sequence axis is its symbolic dim
 * that is not the batch (the ids' batch symbol, or the first symbolic axis), preferring the
 * second-to-last axis ([batch, heads, seq, head_dim], and GPT-2's [2, batch, heads, seq, head_dim]); its
 * numeric dims are kept. An input that is neither in the data nor fillable is a usage error that names it
 * and says how to feed it.
 */
import { DataType, isFloatType } from '../../core/dtype.js';
import { UsageError } from '../../core/errors.js';
import type { Dim } from '../../ir/value.js';
import { RTensor } from '../../runtime/value.js';
import { describeInput, type Batch, type Dataset, type InputSpec } from './dataset.js';

/** What a filled input is. */
export type FillKind = 'attention_mask' | 'position_ids' | 'cache_position' | 'past' | 'use_cache_branch' | 'token_type_ids';

/** One input the ids imply. */
export interface Fill {
  input: InputSpec;
  kind: FillKind;
  /** For `past`: the axis that grows with the sequence. */
  axis?: number;
}

/** Which input takes the ids, and how the others are filled. */
export interface TokenFeedPlan {
  ids: InputSpec;
  /** Inputs the data gives itself (the ids among them). */
  given: InputSpec[];
  /** The past key/values among the given: their length is the past of the filled mask and positions. */
  pasts: Fill[];
  fills: Fill[];
}

const integerTypes = new Set<number>([DataType.INT64, DataType.INT32]);

/**
 * The input that takes token ids: the one named `input_ids` (or `ids`, `tokens`), else the first int64 or
 * int32 input of rank 2 (or of unknown shape).
 */
export function tokenInput(inputs: readonly InputSpec[]): InputSpec | undefined {
  const isInt = (i: InputSpec) => i.dataType === undefined || integerTypes.has(i.dataType);
  const named = inputs.find((i) => /^(input_ids|ids|tokens|token_ids)$/i.test(i.name) && isInt(i));
  return named ?? inputs.find((i) => i.dataType !== undefined && integerTypes.has(i.dataType) && (i.shape === undefined || i.shape.length === 2));
}

/** Why an input cannot be filled, or how it is. */
type Recognised = Fill | { reason: string; known: boolean };

function rankOf(i: InputSpec): number | undefined {
  return i.shape?.length;
}

/** The past's sequence axis, or why none can be told. */
function pastAxis(input: InputSpec, batchSymbol: Dim | undefined): number | string {
  const dims = input.shape;
  if (dims === undefined) return 'the model does not give its shape';
  const r = dims.length;
  if (r < 3) return `rank ${r} is not the shape of a key/value cache`;
  const symbolic = dims.map((d, i) => (typeof d === 'number' ? -1 : i)).filter((i) => i >= 0 && (batchSymbol === undefined || dims[i] !== batchSymbol));
  // The batch may go by another name than the ids' batch: then it is the first symbolic axis before the sequence axis.
  if (symbolic.includes(r - 2)) return r - 2;
  if (symbolic.length === 1) return symbolic[0]!;
  if (symbolic.length === 0) return dims[r - 2] === 0 ? r - 2 : `its sequence axis is fixed (${dims.join(', ')}), so an empty past cannot be fed`;
  return `its dims [${dims.map((d) => d ?? '?').join(', ')}] leave the sequence axis ambiguous`;
}

/** Recognises one input that the data does not give. */
function recognise(input: InputSpec, ids: InputSpec): Recognised {
  const name = input.name;
  const t = input.dataType;
  const r = rankOf(input);
  const wrong = (what: string): Recognised => ({ reason: `it looks like ${what} by its name, but it is ${describeInput(input)}`, known: true });
  if (/use_cache/i.test(name)) {
    if (t !== undefined && t !== DataType.BOOL) return wrong('a use-cache switch (bool)');
    if (r !== undefined && r > 1) return wrong('a use-cache switch (a bool scalar or [1])');
    return { input, kind: 'use_cache_branch' };
  }
  if (/cache_position/i.test(name)) {
    if (t !== undefined && !integerTypes.has(t)) return wrong('cache positions (int64 [seq])');
    if (r !== undefined && r !== 1) return wrong('cache positions (int64 [seq])');
    return { input, kind: 'cache_position' };
  }
  if (/attention_mask|attn_mask|^(input_)?mask$/i.test(name)) {
    if (r !== undefined && r !== 2) return wrong('an attention mask [batch, past + seq]');
    if (t !== undefined && !(integerTypes.has(t) || t === DataType.BOOL || isFloatType(t))) return wrong('an attention mask');
    return { input, kind: 'attention_mask' };
  }
  if (/position_ids|^pos(ition)?s?(_ids)?$/i.test(name)) {
    if (t !== undefined && !integerTypes.has(t)) return wrong('position ids (int64 [batch, seq])');
    if (r !== undefined && r !== 1 && r !== 2) return wrong('position ids (int64 [batch, seq])');
    return { input, kind: 'position_ids' };
  }
  if (/token_type_ids|segment_ids/i.test(name)) {
    if (t !== undefined && !integerTypes.has(t)) return wrong('token type ids (int64 [batch, seq])');
    if (r !== undefined && r !== 2) return wrong('token type ids (int64 [batch, seq])');
    return { input, kind: 'token_type_ids' };
  }
  if (/past|cache|^(key|value)s?[._]\d|[._](key|value)s?$/i.test(name)) {
    if (t === DataType.BOOL || t === DataType.STRING) return wrong('a past key/value');
    const batchSymbol = typeof ids.shape?.[0] === 'string' ? ids.shape[0] : undefined;
    const axis = pastAxis(input, batchSymbol);
    if (typeof axis === 'string') return { reason: `it looks like a past key/value, but ${axis}`, known: true };
    return { input, kind: 'past', axis };
  }
  return { reason: 'compress does not know what it holds', known: false };
}

/**
 * Plans the feeds of a model whose inputs the data gives only in part (`given`, by name). Returns
 * undefined when the plan does not apply (no token input among the given, nothing recognisable to fill,
 * or nothing missing); `strict` (--task lm) turns an input that cannot be filled into a UsageError, as
 * does a model where some missing inputs are recognised and others not.
 */
export function planTokenFeeds(inputs: readonly InputSpec[], given: ReadonlySet<string>, strict: boolean, label: string): TokenFeedPlan | undefined {
  const missing = inputs.filter((i) => !given.has(i.name));
  if (missing.length === 0) return undefined;
  const givenInputs = inputs.filter((i) => given.has(i.name));
  const ids = tokenInput(givenInputs);
  if (!ids) {
    if (!strict) return undefined;
    const m = missing[0]!;
    throw new UsageError(
      `--task lm: ${label} gives no token ids (int64 [batch, seq]) to fill the model's other inputs from, and nothing for input '${m.name}' (${describeInput(m)})`,
      'save the ids as int64 [n, seq] (an .npy, or an .npz array named after the ids input)',
    );
  }
  const recognised = missing.map((i) => [i, recognise(i, ids)] as const);
  if (!strict && !recognised.some(([, r]) => 'kind' in r || r.known)) return undefined;
  const fills: Fill[] = [];
  for (const [input, r] of recognised) {
    if (!('kind' in r)) {
      throw new UsageError(
        `model input '${input.name}' (${describeInput(input)}) is not in ${label}, and compress cannot fill it from the token ids: ${r.reason}`,
        `give it as an array named '${input.name}' in an .npz beside the ids (numpy.savez('data.npz', ${ids.name}=ids, ${input.name}=...))`,
      );
    }
    fills.push(r);
  }
  const pasts: Fill[] = [];
  for (const i of givenInputs) {
    const r = i === ids ? undefined : recognise(i, ids);
    if (r && 'kind' in r && r.kind === 'past') pasts.push(r);
  }
  const missingPast = fills.find((f) => f.kind === 'past');
  if (pasts.length > 0 && missingPast) {
    throw new UsageError(`${label} gives some past key/values but not '${missingPast.input.name}'`, 'give every past key/value input, or none (an empty past is then filled for each)');
  }
  return { ids, given: givenInputs, pasts, fills };
}

/** "attention_mask (ones), position_ids (0..seq-1), 4 past key/values (empty), use_cache_branch (false)". */
export function describeFills(plan: TokenFeedPlan): string {
  const parts: string[] = [];
  const pasts = plan.fills.filter((f) => f.kind === 'past').length;
  for (const f of plan.fills) {
    if (f.kind === 'past') continue;
    const what: Record<Exclude<FillKind, 'past'>, string> = {
      attention_mask: 'ones',
      position_ids: 'past + 0..seq-1',
      cache_position: 'past + 0..seq-1',
      use_cache_branch: 'false unless a past is given',
      token_type_ids: 'zeros',
    };
    parts.push(`${f.input.name} (${what[f.kind]})`);
  }
  if (pasts > 0) parts.push(`${pasts} past key/value${pasts === 1 ? '' : 's'} (empty)`);
  return parts.join(', ');
}

/** Checks a filled feed's dims against the model input's numeric dims. */
function checkDims(input: InputSpec, dims: number[], why: string): void {
  const want = input.shape;
  if (!want) return;
  const bad = want.length !== dims.length || want.some((d, i) => typeof d === 'number' && d !== dims[i]);
  if (bad) {
    throw new UsageError(
      `filled model input '${input.name}' would be [${dims.join(', ')}] (${why}), but the model declares ${describeInput(input)}`,
      `give '${input.name}' in an .npz beside the ids, or ids whose length the model takes`,
    );
  }
}

function filled(dataType: number | undefined, dims: number[], value: (i: number) => number): RTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = value(i);
  return RTensor.fromNumbers(dataType ?? DataType.INT64, dims, values);
}

/**
 * The filled feeds of one batch: `feeds` holds what the data gave (the ids, and maybe the past). Throws a
 * UsageError when the ids are not [batch, seq] or a filled dim contradicts the model.
 */
export function fillFeeds(plan: TokenFeedPlan, feeds: Record<string, RTensor>): Record<string, RTensor> {
  const ids = feeds[plan.ids.name]!;
  if (ids.dims.length !== 2) throw new UsageError(`token ids for '${plan.ids.name}' must be [batch, seq] to fill the other inputs; a batch is [${ids.dims.join(', ')}]`);
  const [batch, seq] = ids.dims as [number, number];
  const given = plan.pasts[0];
  const past = given ? (feeds[given.input.name]?.dims[given.axis!] ?? 0) : 0;
  const out: Record<string, RTensor> = {};
  for (const f of plan.fills) {
    const t = f.input.dataType;
    const shape = f.input.shape;
    let dims: number[];
    let value: (i: number) => number;
    let why: string;
    switch (f.kind) {
      case 'attention_mask':
        dims = [batch, past + seq];
        value = () => 1;
        why = `ones for the ${past} past and ${seq} new positions`;
        break;
      case 'token_type_ids':
        dims = [batch, seq];
        value = () => 0;
        why = 'zeros like the ids';
        break;
      case 'position_ids':
        dims = shape?.length === 1 ? [seq] : [shape?.[0] === 1 ? 1 : batch, seq];
        value = (i) => past + (i % seq);
        why = `positions ${past}..${past + seq - 1}`;
        break;
      case 'cache_position':
        dims = [seq];
        value = (i) => past + i;
        why = `positions ${past}..${past + seq - 1}`;
        break;
      case 'use_cache_branch':
        dims = shape?.length === 0 ? [] : [1];
        value = () => (past > 0 ? 1 : 0);
        why = past > 0 ? 'a past is given' : 'no past';
        break;
      case 'past': {
        const s = shape!;
        const batchAxis = s.findIndex((d, i) => i !== f.axis && typeof d !== 'number');
        dims = s.map((d, i) => (i === f.axis ? past : typeof d === 'number' ? d : i === batchAxis ? batch : -1));
        const unknown = dims.indexOf(-1);
        if (unknown >= 0) {
          throw new UsageError(
            `cannot tell the size of dim ${unknown} ('${String(s[unknown])}') of model input '${f.input.name}' (${describeInput(f.input)}) to fill an empty past`,
            `give '${f.input.name}' in an .npz beside the ids`,
          );
        }
        value = () => 0;
        why = 'an empty past';
        break;
      }
    }
    checkDims(f.input, dims, why);
    out[f.input.name] = filled(t, dims, value);
  }
  return out;
}

/**
 * A dataset of token ids (and whatever else the data gives) that feeds every input of the model: the
 * inner dataset's batches plus the filled feeds, in the model's input order.
 */
export class TokenFeedDataset implements Dataset {
  readonly inputNames: string[];
  readonly tokens: string;
  readonly filled: string;

  constructor(
    private readonly inner: Dataset,
    readonly plan: TokenFeedPlan,
    inputs: readonly InputSpec[],
  ) {
    this.inputNames = inputs.map((i) => i.name);
    this.tokens = plan.ids.name;
    this.filled = describeFills(plan);
  }

  get source(): string {
    return this.inner.source;
  }

  get synthetic(): boolean {
    return this.inner.synthetic;
  }

  get samples(): number {
    return this.inner.samples;
  }

  batchSizeFor(requested: number): number {
    return this.inner.batchSizeFor(requested);
  }

  *batches(batchSize: number): Generator<Batch> {
    for (const b of this.inner.batches(batchSize)) {
      const fills = fillFeeds(this.plan, b.feeds);
      const feeds: Record<string, RTensor> = {};
      for (const name of this.inputNames) feeds[name] = b.feeds[name] ?? fills[name]!;
      yield { start: b.start, size: b.size, feeds };
    }
  }
}
