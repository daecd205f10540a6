/**
 * The schema against onnx-proto (the static module generated from ONNX 1.10): every message and field
 * onnx-proto knows exists here with the same number and wire type, checked by encoding a value with
 * onnx-proto and reading it back with our schema. Plus the fields added since 1.10, by number.
 */
import { createRequire } from 'node:module';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { root, Types } from '../../src/onnx/schema.js';

const require = createRequire(import.meta.url);
// onnx-proto is CommonJS with its own protobufjs 6; loaded as a plain module, used only here.
const onnxProto = require('onnx-proto') as { onnx: Record<string, unknown> };

type StaticClass = { prototype: object; encode(m: unknown): { finish(): Uint8Array }; fromObject(o: unknown): unknown } & Record<string, unknown>;

/** onnx-proto's class for one of our types (onnx.TypeProto.Tensor -> onnxProto.onnx.TypeProto.Tensor). */
function staticClassOf(type: protobuf.Type): StaticClass | undefined {
  const path = type.fullName.replace(/^\.onnx\./, '').split('.');
  let node: unknown = onnxProto.onnx;
  for (const p of path) node = (node as Record<string, unknown> | undefined)?.[p];
  return typeof node === 'function' ? (node as unknown as StaticClass) : undefined;
}

/** Field names a static class declares (as prototype defaults; oneof virtuals are getters). */
function staticFields(cls: StaticClass): string[] {
  return Object.getOwnPropertyNames(cls.prototype).filter((k) => {
    const d = Object.getOwnPropertyDescriptor(cls.prototype, k)!;
    return k !== 'constructor' && !d.get && typeof d.value !== 'function';
  });
}

function sample(field: protobuf.Field): unknown {
  if (field.resolvedType instanceof protobuf.Type) return {};
  if (field.resolvedType instanceof protobuf.Enum) return 1;
  switch (field.type) {
    case 'string':
      return 'v';
    case 'bytes':
      return [1, 2, 3];
    case 'float':
    case 'double':
      return 1.5;
    case 'bool':
      return true;
    default:
      return 5;
  }
}

function allTypes(ns: protobuf.NamespaceBase): protobuf.Type[] {
  const out: protobuf.Type[] = [];
  for (const n of ns.nestedArray) {
    if (n instanceof protobuf.Type) out.push(n);
    if (n instanceof protobuf.Namespace || n instanceof protobuf.Type) out.push(...allTypes(n));
  }
  return out;
}

test('every field onnx-proto 1.10 knows has the same number and wire type in our schema', () => {
  let checked = 0;
  for (const type of allTypes(root)) {
    const cls = staticClassOf(type);
    if (!cls) continue;
    for (const name of staticFields(cls)) {
      const field = type.fields[name];
      assert.ok(field, `${type.fullName}.${name} is in onnx-proto but not in our schema`);
      const value = field.repeated ? [sample(field)] : sample(field);
      const bytes = cls.encode(cls.fromObject({ [name]: value })).finish();
      const reader = protobuf.Reader.create(bytes);
      reader.discardUnknown = false;
      const decoded = type.decode(reader) as unknown as Record<string, unknown>;
      const unknowns = (decoded as { $unknowns?: unknown[] }).$unknowns;
      assert.ok(!unknowns || unknowns.length === 0, `${type.fullName}.${name}: onnx-proto wrote a field our schema does not know`);
      const got = decoded[name];
      assert.ok(field.repeated ? Array.isArray(got) && got.length === 1 : Object.prototype.hasOwnProperty.call(decoded, name), `${type.fullName}.${name} did not come back`);
      checked++;
    }
  }
  assert.ok(checked > 100, `only ${checked} fields checked`);
});

test('fields added after ONNX 1.10 have their upstream numbers', () => {
  const expect: [protobuf.Type, string, number][] = [
    [Types.NodeProto, 'metadataProps', 9],
    [Types.NodeProto, 'deviceConfigurations', 10],
    [Types.ModelProto, 'configuration', 26],
    [Types.ModelProto, 'functions', 25],
    [Types.FunctionProto, 'attributeProto', 11],
    [Types.FunctionProto, 'valueInfo', 12],
    [Types.FunctionProto, 'overload', 13],
    [Types.FunctionProto, 'metadataProps', 14],
    [Types.GraphProto, 'metadataProps', 16],
    [Types.TensorProto, 'metadataProps', 16],
    [Types.ValueInfoProto, 'metadataProps', 4],
    [Types.AttributeProto, 'refAttrName', 21],
    [Types.AttributeProto, 'tp', 14],
    [Types.AttributeProto, 'typeProtos', 15],
    [Types.NodeProto, 'overload', 8],
  ];
  for (const [type, name, id] of expect) assert.equal(type.fields[name]?.id, id, `${type.name}.${name}`);
  const dataType = root.lookupEnum('onnx.TensorProto.DataType');
  assert.equal(dataType.values.INT4, 22);
  assert.equal(dataType.values.FLOAT4E2M1, 23);
  // Packed exactly where onnx.proto says: the data fields, not dims / ints / floats.
  assert.equal(Types.TensorProto.fields.floatData!.packed, true);
  assert.equal(Types.TensorProto.fields.dims!.packed, false);
  assert.equal(Types.AttributeProto.fields.ints!.packed, false);
});
