/**
 * Constant (ONNX): a tensor held in an attribute. Opset 1 has `value`; 11 adds `sparse_value`; 12 adds
 * the scalar and list forms `value_float(s)`, `value_int(s)` (INT64) and `value_string(s)`. One kernel
 * reads whichever attribute is set (exactly one must be). The output lives on the host and shares the
 * attribute's array (kernels never mutate inputs).
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { AttrType } from '../../ir/attribute.js';
import { sizeOf, Tensor } from '../../ir/tensor.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { allocHost } from '../util/host.js';
import { RTensor } from '../value.js';

const encoder = new TextEncoder();

/** A sparse tensor as onnx/ may hand it over: values and indices (as IR tensors) plus the dense dims. */
interface SparseLike {
  values: Tensor;
  indices: Tensor;
  dims: (number | bigint)[];
}

function isSparseLike(v: unknown): v is SparseLike {
  return typeof v === 'object' && v !== null && (v as SparseLike).values instanceof Tensor && (v as SparseLike).indices instanceof Tensor && Array.isArray((v as SparseLike).dims);
}

/**
 * Densifies a sparse tensor: `indices` is either [NNZ] linear indices or [NNZ, rank] coordinates
 * (ONNX SparseTensorProto); every other element is zero.
 */
function densify(s: SparseLike, ctx: KernelContext): RTensor {
  const dims = s.dims.map(Number);
  const n = sizeOf(dims);
  const vals = s.values;
  const nnz = vals.size;
  const idx = s.indices.toNumbers();
  const linear = new Array<number>(nnz);
  if (s.indices.dims.length === 1) {
    for (let i = 0; i < nnz; i++) linear[i] = idx[i]!;
  } else {
    const rank = dims.length;
    for (let i = 0; i < nnz; i++) {
      let off = 0;
      for (let a = 0; a < rank; a++) off = off * dims[a]! + idx[i * rank + a]!;
      linear[i] = off;
    }
  }
  const dense = RTensor.fromHost(vals.dataType, dims, allocHost(vals.dataType, n));
  const out = dense.host() as unknown as unknown[];
  const src = vals.data as unknown as unknown[];
  for (let i = 0; i < nnz; i++) {
    const at = linear[i]!;
    if (at < 0 || at >= n) throw new ModelError(`${ctx.node.describe()}: sparse_value index ${at} is outside [${dims.join(',')}]`);
    out[at] = src[i];
  }
  return dense;
}

function constant(ctx: KernelContext): RTensor {
  const node = ctx.node;
  const set = [...node.attributes.values()].filter((a) => a.name.startsWith('value') || a.name === 'sparse_value');
  if (set.length !== 1) throw new ModelError(`${node.describe()} must have exactly one value attribute, has ${set.length === 0 ? 'none' : set.map((a) => a.name).join(', ')}`);
  const a = set[0]!;
  switch (a.name) {
    case 'value':
      if (a.type !== AttrType.TENSOR) break;
      return RTensor.fromIr(a.value);
    case 'sparse_value':
      if (a.value instanceof Tensor) return RTensor.fromIr(a.value);
      if (isSparseLike(a.value)) return densify(a.value, ctx);
      throw new ModelError(`${node.describe()}: its sparse_value was not decoded into tensors by the loader`, 'store the constant as a dense `value` or as a sparse initializer');
    case 'value_float':
      if (a.type !== AttrType.FLOAT && a.type !== AttrType.INT) break;
      return RTensor.fromHost(DataType.FLOAT, [], Float32Array.of(Number(a.value)));
    case 'value_floats':
      if (a.type !== AttrType.FLOATS) break;
      return RTensor.fromHost(DataType.FLOAT, [a.value.length], Float32Array.from(a.value));
    case 'value_int':
      if (a.type !== AttrType.INT) break;
      return RTensor.fromHost(DataType.INT64, [], BigInt64Array.of(BigInt(a.value)));
    case 'value_ints':
      if (a.type !== AttrType.INTS) break;
      return RTensor.fromHost(DataType.INT64, [a.value.length], BigInt64Array.from(a.value, (v) => BigInt(v)));
    case 'value_string':
      if (a.type !== AttrType.STRING) break;
      return RTensor.fromHost(DataType.STRING, [], [encoder.encode(a.value)]);
    case 'value_strings':
      if (a.type !== AttrType.STRINGS) break;
      return RTensor.fromHost(DataType.STRING, [a.value.length], a.value.map((s) => encoder.encode(s)));
    default:
      throw new ModelError(`${node.describe()} has an unknown attribute '${a.name}'`, 'Constant takes one of value, sparse_value, value_float(s), value_int(s), value_string(s)');
  }
  throw new ModelError(`${node.describe()}: attribute '${a.name}' has the wrong type (${a.type})`);
}

export const Constant: OpKernel[] = [{ domain: '', opType: 'Constant', since: 1, run: (_inputs, ctx) => [constant(ctx)] }];

