/**
 * Single TensorProto files: the input_<k>.pb / output_<k>.pb of the ONNX test layout
 * (test_data_set_0/), which calibration/ reads and fixtures/ write.
 */
import { modelError } from './errors.js';
import type { Tensor } from '../ir/tensor.js';
import { decodeTensorProto, encodeTensorProto, type TensorProto } from './schema.js';
import { tensorFromProto, tensorToProto } from './tensors.js';

/**
 * Decodes a serialized TensorProto into an IR tensor (raw_data or typed fields, every data type).
 * `label` names it in errors (e.g. the file path).
 *
 * @throws ModelError when the bytes are not a TensorProto or its data does not match its dims
 */
export function readTensorProto(bytes: Uint8Array, label = 'the tensor'): Tensor {
  let proto: TensorProto;
  try {
    proto = decodeTensorProto(bytes);
  } catch (e) {
    throw modelError(`${label} is not a valid TensorProto (${(e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ')})`);
  }
  return tensorFromProto(proto, label);
}

/** Serializes an IR tensor as a TensorProto (raw_data, or its original storage form when it has one). */
export function writeTensorProto(tensor: Tensor): Uint8Array {
  return encodeTensorProto(tensorToProto(tensor));
}
