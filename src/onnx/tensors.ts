/**
 * TensorProto / SparseTensorProto <-> IR Tensor. Dense tensors keep their storage form (raw_data or the
 * typed field) in Tensor.encoding; sparse initializers become dense tensors whose encoding remembers the
 * sparse form, so that save writes a sparse tensor again.
 */
import { DataType, dataTypeName } from '../core/dtype.js';
import { entriesPerElement, sizeOf, Tensor, type DataSource, type NumericArray, type TensorData } from '../ir/tensor.js';
import { canonicalArrayType, decodeTensorData, encodeRawData, encodeTypedData, isKnownDataType, rawByteLength, type StorageForm } from './dtypes.js';
import { modelError } from './errors.js';
import { encodingOf, keep, restore, type Kept, type SparseEncoding, type TensorEncoding } from './encoding.js';
import { has, int64ToNumber, type Int64, type SparseTensorProto, type TensorProto } from './schema.js';

/** TensorProto fields the IR does not model, kept verbatim. */
const TENSOR_REST = ['segment', 'metadataProps'] as const;
/** Optional scalars whose explicit default we write back. */
const TENSOR_SCALARS = ['name', 'docString', 'dataType', 'dataLocation'] as const;
const TENSOR_DEFAULTS = { name: '', docString: '', dataType: 0, dataLocation: 0 };

/** dims as numbers; a negative dim is a corrupt file. */
export function dimsOf(dims: Int64[] | undefined, label: string): number[] {
  const out = (dims ?? []).map(int64ToNumber);
  if (out.some((d) => d < 0 || !Number.isSafeInteger(d))) throw modelError(`${label} has invalid dims [${out.join(',')}]`);
  return out;
}

/**
 * An IR tensor from a TensorProto whose external data (if any) has been read into raw_data, or is left
 * in its file behind `source` (read when the tensor's data is first used). `external` says whether it
 * had been external, so that a save can keep it there.
 */
export function tensorFromProto(proto: TensorProto, label: string, external = false, source?: DataSource): Tensor {
  const dataType = proto.dataType ?? 0;
  const dims = dimsOf(proto.dims, label);
  let data: TensorData | DataSource;
  let form: StorageForm = 'raw';
  if (source) {
    if (!isKnownDataType(dataType) || dataType === DataType.STRING) {
      throw modelError(`${label} keeps ${isKnownDataType(dataType) ? 'STRING' : `data type ${dataType}`} data in an external file, which compress cannot read`);
    }
    const bytes = rawByteLength(dataType, sizeOf(dims) * entriesPerElement(dataType));
    if (bytes !== source.length) throw modelError(`${label} has ${source.length} bytes of external data, expected ${bytes} for its ${dataTypeName(dataType)} [${dims.join(',')}]`);
    data = source;
  } else {
    ({ data, form } = decodeTensorData(proto, dataType, dims, label));
  }
  const t = new Tensor(dataType, dims, data, proto.name ?? '');
  if (has(proto, 'docString')) t.docString = proto.docString;
  const kept = keep(proto, TENSOR_REST, TENSOR_SCALARS);
  const encoding: TensorEncoding = { kind: 'onnx.tensor', form, external, ...kept };
  t.encoding = encoding;
  return t;
}

/** The tensor's encoding when it is ours. */
export function tensorEncodingOf(t: Tensor): TensorEncoding | undefined {
  return encodingOf<TensorEncoding>(t.encoding, 'onnx.tensor');
}

/**
 * A TensorProto of an IR tensor, in its original storage form (raw_data for a tensor without encoding;
 * string_data for STRING). `name` overrides the tensor's own name (initializers take their value's).
 */
export function tensorToProto(t: Tensor, name = t.name, withData = true): TensorProto {
  const enc = tensorEncodingOf(t);
  const out: TensorProto = { dims: t.dims, dataType: t.dataType };
  if (name !== '') out.name = name;
  if (t.docString !== undefined) out.docString = t.docString;
  const form: StorageForm = t.dataType === DataType.STRING ? 'typed' : (enc?.form ?? 'raw');
  // Without data: the caller points the proto at external data (the tensor is never decoded for it).
  if (withData && form === 'raw') out.rawData = encodeRawData(t.dataType, t.view());
  else if (withData) Object.assign(out, encodeTypedData(t.dataType, t.view()));
  return restore(out, enc, TENSOR_DEFAULTS);
}

/** Bytes the tensor's data takes in raw form (what external data would hold). */
export function tensorByteLength(t: Tensor): number {
  if (t.dataType === DataType.STRING) {
    let n = 0;
    for (const s of t.view() as Uint8Array[]) n += s.length + 2;
    return n;
  }
  return rawByteLength(t.dataType, t.size * entriesPerElement(t.dataType));
}

// ---------------------------------------------------------------------------------------------------
// Sparse tensors

/** The sparse default: zero for numbers (-0 too), the empty string for strings, bit pattern 0 for fp16/fp8. */
function isZero(data: TensorData, i: number): boolean {
  if (Array.isArray(data)) return data[i]!.length === 0;
  const v = (data as NumericArray)[i]!;
  return typeof v === 'bigint' ? v === 0n : v === 0;
}

const INTEGER_TYPES: ReadonlySet<number> = new Set([
  DataType.INT8,
  DataType.UINT8,
  DataType.INT16,
  DataType.UINT16,
  DataType.INT32,
  DataType.UINT32,
  DataType.INT64,
  DataType.UINT64,
]);

/**
 * The dense IR tensor of a SparseTensorProto (indices as [NNZ] linear or [NNZ, rank] coordinates).
 * Its encoding keeps the sparse form; `tensorToSparseProto` writes it back.
 */
export function sparseFromProto(sp: SparseTensorProto, label: string): Tensor {
  if (!sp.values) throw modelError(`${label} is a sparse tensor without values`);
  const values = tensorFromProto(sp.values, `${label} (values)`);
  const name = sp.values.name ?? '';
  const dims = dimsOf(sp.dims, label);
  const dataType = values.dataType;
  const per = entriesPerElement(dataType);
  const n = sizeOf(dims);
  const nnz = values.size;
  if (values.rank !== 1) throw modelError(`${label} has values of shape [${values.dims.join(',')}], expected [NNZ]`);

  let linear = new Float64Array(0);
  let coordinates = false;
  let indicesType: number = DataType.INT64;
  let indicesForm: StorageForm = 'raw';
  let indicesKept: Kept<TensorProto> = { rest: {}, presence: [] };
  let indicesName = '';
  if (sp.indices) {
    indicesName = sp.indices.name ?? '';
    const idx = tensorFromProto(sp.indices, `${label} (indices)`);
    indicesType = idx.dataType;
    indicesForm = tensorEncodingOf(idx)?.form ?? 'raw';
    indicesKept = keep(sp.indices, TENSOR_REST, TENSOR_SCALARS);
    if (!INTEGER_TYPES.has(idx.dataType)) {
      throw modelError(`${label} has ${dataTypeName(idx.dataType)} indices; sparse indices must be integers`);
    }
    const raw = Array.from(idx.data as ArrayLike<number | bigint>, Number);
    if (idx.rank === 1 && idx.dims[0] === nnz) {
      linear = Float64Array.from(raw);
    } else if (idx.rank === 2 && idx.dims[0] === nnz && idx.dims[1] === dims.length) {
      coordinates = true;
      linear = new Float64Array(nnz);
      for (let k = 0; k < nnz; k++) {
        let lin = 0;
        for (let a = 0; a < dims.length; a++) {
          const c = raw[k * dims.length + a]!;
          if (c < 0 || c >= dims[a]!) throw modelError(`${label} has an index out of range (${c} on axis ${a} of [${dims.join(',')}])`);
          lin = lin * dims[a]! + c;
        }
        linear[k] = lin;
      }
    } else {
      throw modelError(`${label} has indices of shape [${idx.dims.join(',')}], expected [${nnz}] or [${nnz},${dims.length}]`);
    }
  } else if (nnz !== 0) {
    throw modelError(`${label} has ${nnz} values but no indices`);
  }

  const ctor = canonicalArrayType(dataType);
  const dense: TensorData = ctor === 'string' ? Array.from({ length: n }, () => new Uint8Array(0)) : new ctor(n * per);
  for (let k = 0; k < nnz; k++) {
    const at = linear[k]!;
    if (!(at >= 0 && at < n)) throw modelError(`${label} has index ${at} outside its ${n} elements`);
    for (let j = 0; j < per; j++) (dense as unknown as unknown[])[at * per + j] = (values.data as unknown as unknown[])[k * per + j];
  }
  const t = new Tensor(dataType, dims, dense, name);
  const valuesEnc = tensorEncodingOf(values)!;
  const sparse: SparseEncoding = { linear, coordinates, indicesType, indicesForm, indicesKept, indicesName };
  if (sp.$unknowns && sp.$unknowns.length > 0) sparse.unknowns = sp.$unknowns;
  t.docString = values.docString;
  t.encoding = { ...valuesEnc, sparse } satisfies TensorEncoding;
  return t;
}

/**
 * The SparseTensorProto of a dense tensor. The stored positions are those read (explicit zeros kept)
 * when they still cover every non-zero element, else the non-zero elements, in ascending order.
 */
export function tensorToSparseProto(t: Tensor, name = t.name): SparseTensorProto {
  const enc = tensorEncodingOf(t);
  const sparse = enc?.sparse;
  const per = entriesPerElement(t.dataType);
  const n = t.size;
  let linear: Float64Array | undefined = sparse?.linear;
  if (linear) {
    const listed = new Uint8Array(n);
    for (const i of linear) listed[i] = 1;
    for (let i = 0; i < n && linear; i++) {
      if (listed[i]) continue;
      for (let j = 0; j < per; j++) {
        if (!isZero(t.data, i * per + j)) {
          linear = undefined;
          break;
        }
      }
    }
  }
  if (!linear) {
    const found: number[] = [];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < per; j++) {
        if (!isZero(t.data, i * per + j)) {
          found.push(i);
          break;
        }
      }
    }
    linear = Float64Array.from(found);
  }
  const nnz = linear.length;
  const ctor = canonicalArrayType(t.dataType);
  const vals: TensorData = ctor === 'string' ? [] : new ctor(nnz * per);
  for (let k = 0; k < nnz; k++) {
    for (let j = 0; j < per; j++) (vals as unknown as unknown[])[k * per + j] = (t.data as unknown as unknown[])[linear[k]! * per + j];
  }
  const values = new Tensor(t.dataType, [nnz], vals, name);
  values.docString = t.docString;
  if (enc) values.encoding = { ...enc, sparse: undefined };

  const coordinates = sparse?.coordinates ?? false;
  const indicesType = sparse?.indicesType ?? DataType.INT64;
  const rank = t.rank;
  const count = coordinates ? nnz * rank : nnz;
  const idxCtor = canonicalArrayType(indicesType);
  if (idxCtor === 'string') throw new Error('sparse indices cannot be strings');
  const idx = new idxCtor(count);
  const big = idx instanceof BigInt64Array || idx instanceof BigUint64Array;
  for (let k = 0; k < nnz; k++) {
    if (coordinates) {
      let rem = linear[k]!;
      for (let a = rank - 1; a >= 0; a--) {
        const c = rem % t.dims[a]!;
        rem = (rem - c) / t.dims[a]!;
        idx[k * rank + a] = big ? BigInt(c) : c;
      }
    } else {
      idx[k] = big ? BigInt(linear[k]!) : linear[k]!;
    }
  }
  const indices = new Tensor(indicesType, coordinates ? [nnz, rank] : [nnz], idx);
  indices.encoding = { kind: 'onnx.tensor', form: sparse?.indicesForm ?? 'raw', external: false, ...(sparse?.indicesKept ?? { rest: {}, presence: [] }) } satisfies TensorEncoding;
  const out: SparseTensorProto = { values: tensorToProto(values, name), indices: tensorToProto(indices, sparse?.indicesName ?? ''), dims: t.dims };
  if (sparse?.unknowns) out.$unknowns = sparse.unknowns;
  return out;
}
