/**
 * What onnx-proto 1.10 would drop survives a load -> save: a hand-built IR-10 model carrying an INT4
 * initializer, node metadata_props and device_configurations, a local function with overload,
 * value_info, metadata and attribute defaults, model configuration, training info, tensor metadata,
 * a sparse initializer, non-UTF-8 attribute bytes, and a field no schema knows. Also the IR that comes
 * out: scopes of subgraphs, functions, IR-3 style inputs, node order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Long from 'long';
import { DataType } from '../../src/core/dtype.js';
import { AttrType } from '../../src/ir/attribute.js';
import { Tensor } from '../../src/ir/tensor.js';
import { loadModel, serializeModel } from '../../src/onnx/index.js';
import { decodeModelProto, encodeModelProto, type AttributeProto, type ModelProto, type NodeProto, type TypeProto, type ValueInfoProto } from '../../src/onnx/schema.js';
import { diffModelBytes } from './helpers.js';

const floatType = (...dims: (number | string)[]): TypeProto => ({
  tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } },
});
const vi = (name: string, type?: TypeProto, extra: Partial<ValueInfoProto> = {}): ValueInfoProto => ({ name, ...(type ? { type } : {}), ...extra });
const f32bytes = (v: number[]): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);

/** A varint field (number 1000) that no ONNX schema has: protobufjs keeps it, we must write it back. */
const unknownField = Uint8Array.from([0xc0, 0x3e, 0x2a]);

function newFieldsModel(): ModelProto {
  const dq: NodeProto & { $unknowns?: Uint8Array[] } = {
    name: 'dq',
    opType: 'DequantizeLinear',
    input: ['W', 'S'],
    output: ['Wf'],
    attribute: [
      { name: 'axis', type: AttrType.INT, i: 0 },
      { name: 'block_size', type: AttrType.INT, i: 2 },
    ],
    docString: 'blocked int4',
    metadataProps: [{ key: 'source', value: 'layer1.weight' }],
    deviceConfigurations: [
      {
        configurationId: 'two-gpus',
        shardingSpec: [{ tensorName: 'Wf', device: [0, 1], indexToDeviceGroupMap: [{ key: 0, value: [0, 1] }], shardedDim: [{ axis: 0, simpleSharding: [{ dimValue: 4, numShards: 2 }] }] }],
        pipelineStage: 1,
      },
    ],
    $unknowns: [unknownField],
  };
  const thenBranch = {
    name: 'then',
    node: [{ opType: 'Relu', input: ['X'], output: ['t_out'], name: 'then_relu' }],
    output: [vi('t_out', floatType('N', 4))],
    metadataProps: [{ key: 'branch', value: 'then' }],
  };
  // The else branch returns an outer value typed only later (by the main graph's outputs), with a
  // declaration of its own: it must come back as written.
  const elseBranch = { name: 'else', node: [], output: [vi('Wf', { tensorType: { elemType: DataType.FLOAT } })] };
  const strangeBytes = Uint8Array.from([0xff, 0xfe, 0x41]);
  const attrs: AttributeProto[] = [
    { name: 'then_branch', type: AttrType.GRAPH, g: thenBranch },
    { name: 'else_branch', type: AttrType.GRAPH, g: elseBranch },
  ];
  return {
    irVersion: 10,
    opsetImport: [
      { domain: '', version: 21 },
      { domain: 'local', version: 1 },
    ],
    producerName: 'hand',
    producerVersion: '0',
    modelVersion: Long.fromString('1152921504606846976'),
    docString: 'new fields',
    metadataProps: [{ key: 'license', value: 'MIT' }],
    configuration: [{ name: 'two-gpus', numDevices: 2, device: ['cuda:0', 'cuda:1'] }],
    trainingInfo: [{ initialization: { name: 'init', node: [] }, updateBinding: [{ key: 'S', value: 'S2' }] }],
    graph: {
      name: 'main',
      docString: 'the graph',
      metadataProps: [{ key: 'graph-key', value: 'v' }],
      quantizationAnnotation: [{ tensorName: 'Wf', quantParameterTensorNames: [{ key: 'SCALE_TENSOR', value: 'S' }] }],
      input: [vi('X', { ...floatType('N', 4), denotation: 'TENSOR' }, { docString: 'x', metadataProps: [{ key: 'unit', value: 'm' }] }), vi('C', { tensorType: { elemType: DataType.BOOL, shape: { dim: [] } } })],
      initializer: [
        // 4 x 3 int4 weights (12 nibbles, two per byte, low first), with tensor metadata_props.
        { name: 'W', dims: [4, 3], dataType: DataType.INT4, rawData: Uint8Array.from([0x21, 0x43, 0x65, 0x87, 0xa9, 0xcb]), metadataProps: [{ key: 'quant', value: 'int4' }] },
        { name: 'S', dims: [2, 3], dataType: DataType.FLOAT, floatData: [0.5, 0.25, 1, 2, 4, 8] },
      ],
      sparseInitializer: [
        // Explicit zero stored at linear index 4: must stay listed.
        { values: { name: 'SP', dims: [2], dataType: DataType.FLOAT, floatData: [5, 0] }, indices: { dims: [2], dataType: DataType.INT64, int64Data: [1, 4] }, dims: [2, 3] },
      ],
      node: [
        dq,
        { name: 'call', opType: 'MyFn', domain: 'local', overload: 'v2', input: ['X'], output: ['Y'], attribute: [{ name: 'alpha', type: AttrType.FLOAT, f: 0.2 }] },
        { name: 'if', opType: 'If', input: ['C'], output: ['Z'], attribute: attrs },
        {
          name: 'custom',
          opType: 'Blob',
          domain: 'vendor',
          input: ['Z'],
          output: ['B'],
          attribute: [
            { name: 'payload', type: AttrType.STRING, s: strangeBytes },
            { name: 'names', type: AttrType.STRINGS, strings: [new TextEncoder().encode('ok'), strangeBytes] },
            { name: 'tp', type: AttrType.TYPE_PROTO, tp: floatType(3) },
            { name: 'big', type: AttrType.INT, i: Long.fromString('9223372036854775807') },
            { name: 'sp', type: AttrType.SPARSE_TENSOR, sparseTensor: { values: { dims: [1], dataType: DataType.FLOAT, floatData: [1] }, indices: { dims: [1], dataType: DataType.INT64, int64Data: [0] }, dims: [2] } },
          ],
        },
      ],
      output: [vi('Wf', { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 4 }, { dimValue: 3 }] } } }), vi('Y', floatType('N', 4)), vi('B')],
      valueInfo: [vi('Z', floatType('N', 4), { metadataProps: [{ key: 'vi', value: '1' }] }), vi('gone', floatType(1))],
    },
    functions: [
      {
        name: 'MyFn',
        domain: 'local',
        overload: 'v2',
        input: ['a'],
        output: ['b'],
        attribute: ['alpha'],
        attributeProto: [{ name: 'beta', type: AttrType.FLOAT, f: 0.5 }],
        node: [{ opType: 'LeakyRelu', input: ['a'], output: ['b'], attribute: [{ name: 'alpha', type: AttrType.FLOAT, refAttrName: 'alpha' }] }],
        opsetImport: [{ domain: '', version: 21 }],
        valueInfo: [vi('b', floatType('N', 4))],
        metadataProps: [{ key: 'fn', value: 'meta' }],
        docString: 'a local function',
      },
    ],
  };
}

test('a model with fields newer than onnx-proto 1.10 loads and saves back unchanged', async () => {
  const bytes = encodeModelProto(newFieldsModel());
  const model = await loadModel(bytes);
  const again = serializeModel(model);
  assert.deepEqual(diffModelBytes(bytes, again, 20), []);
  assert.equal(Buffer.compare(bytes, again), 0, 'byte-identical');
  const node = decodeModelProto(again).graph!.node![0]! as NodeProto & { $unknowns?: Uint8Array[] };
  assert.deepEqual(node.$unknowns?.map((b) => Array.from(b)), [Array.from(unknownField)], 'the unknown field survived');
});

test('the IR of that model: int4 unpacked, scopes resolved, function body, sparse densified', async () => {
  const model = await loadModel(encodeModelProto(newFieldsModel()));
  const g = model.graph;
  assert.equal(model.irVersion, 10);
  assert.equal(model.modelVersion, 1152921504606846976n);
  assert.deepEqual(model.metadataProps, [{ key: 'license', value: 'MIT' }]);

  const w = g.value('W')!.initializer!;
  assert.equal(w.dataType, DataType.INT4);
  assert.deepEqual(Array.from(w.data as Int8Array), [1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4]);

  const sp = g.value('SP')!;
  assert.ok(g.sparseInitializers.includes(sp));
  assert.deepEqual(Array.from(sp.initializer!.data as Float32Array), [0, 5, 0, 0, 0, 0]);

  const x = g.inputs[0]!;
  assert.deepEqual(x.type, { kind: 'tensor', elemType: DataType.FLOAT, shape: ['N', 4], denotation: 'TENSOR' });
  assert.equal(x.docString, 'x');
  const ifNode = g.nodes.find((n) => n.opType === 'If')!;
  const then = ifNode.attrGraph('then_branch')!;
  assert.equal(then.outer, g);
  assert.equal(then.nodes[0]!.input(0), x, 'the subgraph reads the outer X itself');
  assert.ok(x.uses.some((u) => u.node === then.nodes[0]), 'and X records that use');
  assert.equal(ifNode.attrGraph('else_branch')!.outputs[0], g.value('Wf'), 'a subgraph output may be an outer value');

  const call = g.nodes.find((n) => n.name === 'call')!;
  assert.equal(call.overload, 'v2');
  assert.equal(call.domain, 'local');
  const fn = model.functions[0]!;
  assert.equal(fn.overload, 'v2');
  assert.deepEqual(fn.attributeNames, ['alpha']);
  assert.equal(fn.body.nodes[0]!.input(0), fn.body.inputs[0]);
  assert.equal(fn.body.nodes[0]!.attr('alpha')!.refAttrName, 'alpha');
  assert.deepEqual(fn.body.value('b')!.type, { kind: 'tensor', elemType: DataType.FLOAT, shape: ['N', 4] });

  const custom = g.nodes.find((n) => n.name === 'custom')!;
  assert.equal(custom.attr('big')!.value, 9223372036854775807n);
  assert.equal(custom.attr('tp')!.type, AttrType.TYPE_PROTO);
  assert.deepEqual(g.valueInfo.map((v) => v.name), ['Z'], "'gone' names no value: kept aside, not made one");
});

test('edited parts are regenerated from the IR, untouched parts kept', async () => {
  const model = await loadModel(encodeModelProto(newFieldsModel()));
  const g = model.graph;
  // A pass replaces S's data (encoding dropped: written as raw_data) and narrows X's type.
  const s = g.value('S')!;
  s.initializer = new Tensor(DataType.FLOAT, [2, 3], Float32Array.from([1, 1, 1, 1, 1, 1]), 'S');
  const x = g.inputs[0]!;
  x.type = { kind: 'tensor', elemType: DataType.FLOAT, shape: [1, 4] };
  const custom = g.nodes.find((n) => n.name === 'custom')!;
  custom.setAttr({ name: 'payload', type: AttrType.STRING, value: 'plain' });

  const reloaded = await loadModel(serializeModel(model));
  const rg = reloaded.graph;
  assert.deepEqual(Array.from(rg.value('S')!.initializer!.data as Float32Array), [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(rg.inputs[0]!.type, { kind: 'tensor', elemType: DataType.FLOAT, shape: [1, 4] });
  assert.equal(rg.nodes.find((n) => n.name === 'custom')!.attrString('payload'), 'plain');
  // The rest is as it was.
  const again = serializeModel(reloaded);
  const original = serializeModel(await loadModel(encodeModelProto(newFieldsModel())));
  const diff = diffModelBytes(original, again, 50);
  assert.ok(diff.length > 0);
  for (const d of diff) assert.match(d, /initializer\[1\]|input\[0\]\.type|attribute\[0\]\.s/, d);
});

test('IR 3 models list initializers among the inputs: one value, both input and constant', async () => {
  const bytes = encodeModelProto({
    irVersion: 3,
    opsetImport: [{ domain: '', version: 8 }],
    graph: {
      name: 'g',
      input: [vi('x', floatType(2)), vi('w', floatType(2))],
      initializer: [{ name: 'w', dims: [2], dataType: DataType.FLOAT, rawData: f32bytes([1, 2]) }],
      node: [{ opType: 'Add', input: ['x', 'w'], output: ['y'] }],
      output: [vi('y', floatType(2))],
    },
  });
  const model = await loadModel(bytes);
  const w = model.graph.inputs[1]!;
  assert.ok(w.isGraphInput && w.isConstant);
  assert.equal(model.graph.initializers[0], w);
  assert.equal(Buffer.compare(serializeModel(model), bytes), 0);
});

test('node order: a sorted file keeps its order, an unsorted one is sorted', async () => {
  const graphWith = (order: string[]) => {
    const nodes: Record<string, NodeProto> = {
      a: { name: 'a', opType: 'Relu', input: ['x'], output: ['ya'] },
      b: { name: 'b', opType: 'Neg', input: ['x'], output: ['yb'] },
      c: { name: 'c', opType: 'Add', input: ['ya', 'yb'], output: ['y'] },
    };
    return encodeModelProto({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: { name: 'g', input: [vi('x', floatType(2))], node: order.map((k) => nodes[k]!), output: [vi('y', floatType(2))] },
    });
  };
  const sorted = await loadModel(graphWith(['b', 'a', 'c']));
  assert.deepEqual(sorted.graph.nodes.map((n) => n.name), ['b', 'a', 'c']);
  const unsorted = await loadModel(graphWith(['c', 'b', 'a']));
  assert.deepEqual(unsorted.graph.nodes.map((n) => n.name), ['b', 'a', 'c']);
  // A subgraph reading a value produced later in the outer graph forces its node after the producer.
  const outerLater = await loadModel(
    encodeModelProto({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'g',
        input: [vi('x', floatType(2)), vi('cond', { tensorType: { elemType: DataType.BOOL, shape: { dim: [] } } })],
        node: [
          {
            name: 'if',
            opType: 'If',
            input: ['cond'],
            output: ['y'],
            attribute: [
              { name: 'then_branch', type: AttrType.GRAPH, g: { name: 't', node: [{ opType: 'Identity', input: ['late'], output: ['o'] }], output: [vi('o')] } },
              { name: 'else_branch', type: AttrType.GRAPH, g: { name: 'e', node: [{ opType: 'Identity', input: ['x'], output: ['p'] }], output: [vi('p')] } },
            ],
          },
          { name: 'late', opType: 'Neg', input: ['x'], output: ['late'] },
        ],
        output: [vi('y', floatType(2))],
      },
    }),
  );
  assert.deepEqual(outerLater.graph.nodes.map((n) => n.name), ['late', 'if']);
});
