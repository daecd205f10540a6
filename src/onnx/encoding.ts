/**
 * What load.ts leaves in the IR's opaque `encoding` slots so that save.ts writes back what was read:
 * fields the IR does not model (metadata, device configurations, quantization annotations, training
 * info, ...), fields protobufjs kept but the schema does not know (`$unknowns`), which optional fields
 * were present with their default value, and how each tensor was stored.
 *
 * Only onnx/ reads these. Everything here is advisory: save.ts checks the shape of what it finds (a pass
 * may copy an encoding onto another object, or drop it) and falls back to writing from the IR alone.
 */
import type { Attribute } from '../ir/attribute.js';
import type { Value } from '../ir/value.js';
import type { StorageForm } from './dtypes.js';
import type {
  AttributeProto,
  FunctionProto,
  GraphProto,
  ModelProto,
  NodeProto,
  OperatorSetIdProto,
  TensorProto,
  ValueInfoProto,
  WithUnknowns,
} from './schema.js';

/** Fields of a message kept verbatim, plus the optional fields present with their default value. */
export interface Kept<T> {
  rest: Partial<T>;
  /** Names of fields the file set explicitly to their default ('' / 0): written back explicitly. */
  presence: string[];
}

/** Tensor.encoding */
export interface TensorEncoding extends Kept<TensorProto> {
  kind: 'onnx.tensor';
  form: StorageForm;
  /** The data lived in an external file: saving keeps it external unless told otherwise. */
  external: boolean;
  /** For sparse initializers: how the sparse form was written. */
  sparse?: SparseEncoding;
}

/** The sparse form of a sparse initializer, kept on its dense tensor. */
export interface SparseEncoding {
  /** Linear indices of the stored values, as read (explicit zeros included). */
  linear: Float64Array;
  /** indices were [NNZ, rank] coordinates rather than [NNZ] linear indices */
  coordinates: boolean;
  indicesType: number;
  indicesForm: StorageForm;
  indicesKept: Kept<TensorProto>;
  indicesName: string;
  unknowns?: Uint8Array[];
}

/** How one ValueInfoProto occurrence was read, to be written back while the value is unchanged. */
export interface ValueInfoEntry {
  input?: ValueInfoProto;
  output?: ValueInfoProto;
  valueInfo?: ValueInfoProto;
  /** snapshotOf(value) right after loading */
  snapshot: string;
}

/** Graph.encoding */
export interface GraphEncoding extends Kept<GraphProto> {
  kind: 'onnx.graph';
  /** ValueInfoProtos as read, per value of this graph's input / output / value_info lists. */
  valueInfos: Map<Value, ValueInfoEntry>;
  /** value_info entries naming values this graph does not define (stale or outer), with their index. */
  foreignValueInfo: { index: number; proto: ValueInfoProto }[];
}

/** Node.encoding */
export interface NodeEncoding extends Kept<NodeProto> {
  kind: 'onnx.node';
  /** The domain as written when it was 'ai.onnx' (the IR normalises it to ''). */
  domain?: string;
}

/** Model.encoding */
export interface ModelEncoding extends Kept<ModelProto> {
  kind: 'onnx.model';
  /** opset_import entries as read, by domain, for their presence flags and unknown fields */
  opsets: Map<string, OperatorSetIdProto>;
  /** Real paths of the external data files the model was read from (never overwritten by a save). */
  externalFiles: string[];
}

/** LocalFunction.encoding */
export interface FunctionEncoding extends Kept<FunctionProto> {
  kind: 'onnx.function';
  /** opset_import entries as read, by domain */
  opsets: Map<string, OperatorSetIdProto>;
}

/** Per-attribute extras (Attribute has no encoding slot): bytes that are not UTF-8, unknown fields. */
export interface AttributeExtras extends Kept<AttributeProto> {
  /** s / strings as read, when they were not valid UTF-8, with the lossy text the IR got */
  bytes?: { text: string | string[]; raw: Uint8Array | Uint8Array[] };
  /** A ref_attr_name attribute also carried a value field. */
  valuePresent: boolean;
}

/** Attribute extras, keyed by the IR attribute object (a pass that builds a new attribute starts clean). */
export const attributeExtras = new WeakMap<Attribute, AttributeExtras>();

/** A stable text of what save regenerates a ValueInfoProto from: when it changes, the entry is regenerated. */
export function snapshotOf(v: Value): string {
  return JSON.stringify([v.type ?? null, v.docString ?? null]);
}

/** The encoding if it has the expected kind (a foreign or stale object is ignored). */
export function encodingOf<K extends { kind: string }>(encoding: unknown, kind: K['kind']): K | undefined {
  return typeof encoding === 'object' && encoding !== null && (encoding as { kind?: unknown }).kind === kind ? (encoding as K) : undefined;
}

/** A copy of bytes in their own buffer (Buffer#slice would return a view). */
export function copyBytes(b: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(b);
}

function isDefaultValue(v: unknown): boolean {
  if (v === '' || v === 0 || v === false) return true;
  if (v instanceof Uint8Array) return v.length === 0;
  if (typeof v === 'object' && v !== null && 'low' in v && 'high' in v) return (v as { low: number; high: number }).low === 0 && (v as { high: number }).high === 0;
  return false;
}

/**
 * Captures `restFields` (non-empty ones) and the unknown fields of `message`, and which of `scalarFields`
 * were present with their default value.
 */
export function keep<T extends WithUnknowns>(message: T, restFields: readonly (keyof T & string)[], scalarFields: readonly (keyof T & string)[]): Kept<T> {
  const rest: Partial<T> = {};
  for (const f of restFields) {
    if (!Object.prototype.hasOwnProperty.call(message, f)) continue;
    const v = message[f];
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue;
    rest[f] = v;
  }
  // Copies: protobufjs hands out views into the file's buffer, which would otherwise stay alive with the IR.
  if (message.$unknowns && message.$unknowns.length > 0) rest.$unknowns = message.$unknowns.map(copyBytes);
  const presence: string[] = [];
  for (const f of scalarFields) {
    if (Object.prototype.hasOwnProperty.call(message, f) && isDefaultValue(message[f])) presence.push(f);
  }
  return { rest, presence };
}

/**
 * Copies kept fields onto `out` and sets the recorded present-but-default fields that `out` leaves unset.
 * `defaults` gives each such field's default value.
 */
export function restore<T extends object>(out: T, kept: Kept<T> | undefined, defaults: Partial<Record<keyof T & string, unknown>>): T {
  if (!kept) return out;
  Object.assign(out, kept.rest);
  const o = out as Record<string, unknown>;
  for (const f of kept.presence) {
    if (o[f] === undefined && f in defaults) o[f] = (defaults as Record<string, unknown>)[f];
  }
  return out;
}
