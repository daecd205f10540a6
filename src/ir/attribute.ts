/**
 * Node attributes. Types and numbers are ONNX's AttributeProto.AttributeType.
 * INT values are numbers when they fit exactly in a double, else bigints (e.g. Slice's INT64_MAX ends),
 * so that load -> save keeps them bit-exact; read them with `attrInt`, which clamps.
 */
import type { Graph } from './graph.js';
import type { Tensor } from './tensor.js';

export const AttrType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;
export type AttrType = (typeof AttrType)[keyof typeof AttrType];

export type IntValue = number | bigint;

export type AttributeValue =
  | { type: typeof AttrType.FLOAT; value: number }
  | { type: typeof AttrType.INT; value: IntValue }
  | { type: typeof AttrType.STRING; value: string }
  | { type: typeof AttrType.TENSOR; value: Tensor }
  | { type: typeof AttrType.GRAPH; value: Graph }
  | { type: typeof AttrType.FLOATS; value: number[] }
  | { type: typeof AttrType.INTS; value: IntValue[] }
  | { type: typeof AttrType.STRINGS; value: string[] }
  | { type: typeof AttrType.TENSORS; value: Tensor[] }
  | { type: typeof AttrType.GRAPHS; value: Graph[] }
  /** sparse tensors and type protos are carried as onnx/'s decoded objects */
  | { type: 11 | 12 | 13 | 14 | 0; value: unknown };

export type Attribute = AttributeValue & {
  name: string;
  /** for attributes of function bodies that refer to the caller's attribute */
  refAttrName?: string;
  docString?: string;
};

/** Converts an INT attribute value to a number, clamping bigints beyond the safe range. */
export function intToNumber(v: IntValue): number {
  if (typeof v === 'number') return v;
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (v < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(v);
}

/** Builds an attribute, inferring INT vs FLOAT from `float` (JS numbers do not say which). */
export function makeAttr(name: string, value: number | number[] | string | string[] | Tensor | Graph, kind?: 'int' | 'float'): Attribute {
  if (typeof value === 'string') return { name, type: AttrType.STRING, value };
  if (typeof value === 'number') {
    const isInt = kind ? kind === 'int' : Number.isInteger(value);
    return isInt ? { name, type: AttrType.INT, value } : { name, type: AttrType.FLOAT, value };
  }
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') return { name, type: AttrType.STRINGS, value: value as string[] };
    const nums = value as number[];
    const isInt = kind ? kind === 'int' : nums.every(Number.isInteger);
    return isInt ? { name, type: AttrType.INTS, value: nums } : { name, type: AttrType.FLOATS, value: nums };
  }
  if ('opType' in value || 'nodes' in value) return { name, type: AttrType.GRAPH, value: value as Graph };
  return { name, type: AttrType.TENSOR, value: value as Tensor };
}
