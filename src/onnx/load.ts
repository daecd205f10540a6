/**
 * ONNX bytes -> IR. Decodes with the current schema (schema.ts), reads external data, and builds the IR's
 * graphs with their scopes: subgraphs of If / Loop / Scan see the values of the graphs around them, and
 * model-local functions get a body graph of their own. Whatever the IR does not model goes into the
 * objects' `encoding` (encoding.ts) so that save.ts writes the same model back.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { realpath, open, readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { DataType, dataTypeName } from '../core/dtype.js';
import { ModelError, UsageError } from '../core/errors.js';
import { AttrType, type Attribute, type IntValue } from '../ir/attribute.js';
import { Graph } from '../ir/graph.js';
import { Model, type LocalFunction, type OpsetImport } from '../ir/model.js';
import { Node } from '../ir/node.js';
import { entriesPerElement, Tensor } from '../ir/tensor.js';
import { nodeDependencies, topologicalSort } from '../ir/traversal.js';
import { Value, type Dim, type TypeInfo } from '../ir/value.js';
import {
  attributeExtras,
  copyBytes,
  keep,
  snapshotOf,
  type AttributeExtras,
  type FunctionEncoding,
  type GraphEncoding,
  type ModelEncoding,
  type NodeEncoding,
} from './encoding.js';
import {
  DATA_LOCATION_EXTERNAL,
  decodeModelProto,
  has,
  int64ToBigInt,
  int64ToNumber,
  type AttributeProto,
  type FunctionProto,
  type GraphProto,
  type Int64,
  type ModelProto,
  type NodeProto,
  type OperatorSetIdProto,
  type TensorProto,
  type TypeProto,
  type ValueInfoProto,
} from './schema.js';
import { decodeRawData, isKnownDataType, rawByteLength } from './dtypes.js';
import { modelError, printable } from './errors.js';
import { sparseFromProto, tensorFromProto } from './tensors.js';

/**
 * The IR versions we read: 3 (opset imports) to 13 (ONNX 1.20), the newest onnxruntime 1.30 loads. IR 12
 * and 13 changed no message, only added data types (FLOAT8E8M0, then UINT2 / INT2), so a model of either
 * is read and written back with its version as it was.
 */
export const MIN_IR_VERSION = 3;
export const MAX_IR_VERSION = 13;

/** protobuf refuses messages of 2 GiB or more; bigger models keep their weights in external data. */
const PROTOBUF_LIMIT = 2 ** 31 - 1;

export interface LoadOptions {
  /**
   * The folder external data locations are relative to. Default: the model file's folder. Needed when
   * the model is given as bytes and keeps tensors in external files.
   */
  baseDir?: string;
  /**
   * Read every external tensor now rather than when it is first used. Default false: external data stays
   * on disk until a pass or the executor needs it (and can be released again), so a model larger than
   * memory can be compressed; the files must then stay in place, unchanged, while the model is in use.
   */
  eager?: boolean;
}

/**
 * Loads an ONNX model (a file path, or the bytes of one) into the IR.
 *
 * External data is read eagerly from files next to the model; a location that is absolute or leaves the
 * model's folder (through '..' or a symbolic link) is refused. Graphs are topologically sorted only when
 * they are not already.
 *
 * @throws UsageError when the path does not exist or is a folder (exit 2)
 * @throws ModelError when the bytes are not a readable ONNX model of IR 3-11, or external data is
 *   missing, out of the model's folder, or too short (exit 3)
 */
export async function loadModel(source: string | Uint8Array, options: LoadOptions = {}): Promise<Model> {
  let bytes: Uint8Array;
  let label: string;
  let path: string | undefined;
  let baseDir = options.baseDir;
  if (typeof source === 'string') {
    path = resolve(source);
    label = `'${printable(source)}'`;
    bytes = await readModelFile(path, printable(source));
    baseDir ??= dirname(path);
  } else {
    bytes = source;
    label = 'the model bytes';
  }
  const proto = parseModelBytes(bytes, label);
  const external = await readExternalData(proto, baseDir, label, options.eager ?? false);
  const model = new Converter(external.tensors, external.sources).model(proto, external.files);
  if (path !== undefined) model.path = path;
  return model;
}

async function readModelFile(path: string, shown: string): Promise<Uint8Array> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw fileError(e, shown);
  }
  if (info.isDirectory()) throw new UsageError(`'${shown}' is a folder, not an ONNX model file`, 'give the path of the .onnx file');
  if (!info.isFile()) throw new UsageError(`'${shown}' is not a regular file`);
  if (info.size === 0) throw modelError(`'${shown}' is empty (0 bytes), not an ONNX model`);
  if (info.size > PROTOBUF_LIMIT) {
    throw modelError(`'${shown}' is ${(info.size / 2 ** 30).toFixed(1)} GiB; an ONNX protobuf file cannot exceed 2 GiB`, 'large models keep their weights in external data files');
  }
  try {
    return await readFile(path);
  } catch (e) {
    throw fileError(e, shown);
  }
}

function fileError(e: unknown, shown: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new UsageError(`model file '${shown}' does not exist`);
  if (code === 'EACCES' || code === 'EPERM') return new UsageError(`cannot read '${shown}': permission denied`);
  if (code === 'EISDIR') return new UsageError(`'${shown}' is a folder, not an ONNX model file`);
  return e instanceof Error ? e : new Error(String(e));
}

/** One line of a library's error message. */
function oneLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/\s+/g, ' ').trim();
}

/** Decodes and sanity-checks the ModelProto; every failure is a one-line ModelError. */
export function parseModelBytes(bytes: Uint8Array, label: string): ModelProto {
  if (bytes.length === 0) throw modelError(`${label} is empty (0 bytes), not an ONNX model`);
  let proto: ModelProto;
  try {
    proto = decodeModelProto(bytes);
  } catch (e) {
    const why = oneLine(e);
    const truncated = /index out of range|premature|truncated/i.test(why);
    throw modelError(
      truncated
        ? `${label} is not a valid ONNX model: the protobuf data is truncated or corrupt (${why})`
        : `${label} is not a valid ONNX model: the bytes are not ONNX protobuf (${why})`,
      truncated ? 'the file may be cut short: download or export it again' : undefined,
    );
  }
  if (!proto.graph || !has(proto, 'irVersion')) {
    throw modelError(`${label} is not an ONNX model: ${proto.graph ? 'it has no IR version' : 'it has no graph'}`);
  }
  const ir = int64ToNumber(proto.irVersion);
  if (ir < MIN_IR_VERSION || ir > MAX_IR_VERSION) {
    throw modelError(
      `${label} has IR version ${ir}; compress reads IR versions ${MIN_IR_VERSION} to ${MAX_IR_VERSION}`,
      ir > MAX_IR_VERSION ? 'the model is newer than this version of compress' : 'convert it with onnx.version_converter first',
    );
  }
  return proto;
}

// ---------------------------------------------------------------------------------------------------
// External data

/** Calls `fn` on every TensorProto of the model: initializers, attribute tensors, sparse parts, functions, training info. */
export function forEachTensorProto(model: ModelProto, fn: (t: TensorProto, sparse: boolean) => void): void {
  const attr = (a: AttributeProto): void => {
    if (a.t) fn(a.t, false);
    for (const t of a.tensors ?? []) fn(t, false);
    for (const s of [a.sparseTensor, ...(a.sparseTensors ?? [])]) {
      if (s?.values) fn(s.values, true);
      if (s?.indices) fn(s.indices, true);
    }
    if (a.g) graph(a.g);
    for (const g of a.graphs ?? []) graph(g);
  };
  const graph = (g: GraphProto): void => {
    for (const t of g.initializer ?? []) fn(t, false);
    for (const s of g.sparseInitializer ?? []) {
      if (s.values) fn(s.values, true);
      if (s.indices) fn(s.indices, true);
    }
    for (const n of g.node ?? []) for (const a of n.attribute ?? []) attr(a);
  };
  if (model.graph) graph(model.graph);
  for (const ti of model.trainingInfo ?? []) {
    if (ti.initialization) graph(ti.initialization);
    if (ti.algorithm) graph(ti.algorithm);
  }
  for (const f of model.functions ?? []) {
    for (const n of f.node ?? []) for (const a of n.attribute ?? []) attr(a);
    for (const a of f.attributeProto ?? []) attr(a);
  }
}

interface ExternalRead {
  /** TensorProtos whose data came from an external file (in raw_data when read eagerly) */
  tensors: WeakSet<TensorProto>;
  /** Where the data of the external tensors left on disk is (lazy loading) */
  sources: WeakMap<TensorProto, ExternalRegion>;
  /** real paths of the files read */
  files: string[];
}

/** A tensor's bytes in an external data file, checked against the file's size when the model was loaded. */
interface ExternalRegion {
  path: string;
  location: string;
  offset: number;
  length: number;
  /** The file as it was at load: a later read refuses a file that changed under the model. */
  size: number;
  mtimeMs: number;
}

/** Throws when the file behind a region is not the one the model was loaded with. */
function verifyRegion(r: ExternalRegion, label: string, size: number, mtimeMs: number): void {
  if (size !== r.size || mtimeMs !== r.mtimeMs) {
    throw modelError(`the external data file '${r.location}' changed after the model was loaded (reading ${label})`, "do not modify a model's data files while compress works on it");
  }
}

/** Reads a region of a file into a fresh buffer (synchronously: tensor data is read where it is needed). */
function readRegion(r: ExternalRegion, label: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(r.path, 'r');
  } catch (e) {
    throw modelError(`cannot read the external data of ${label} from '${r.location}': ${oneLine(e)}`, 'the data file must stay beside the model while compress works on it');
  }
  try {
    const info = fstatSync(fd);
    verifyRegion(r, label, info.size, info.mtimeMs);
    const bytes = new Uint8Array(r.length);
    let done = 0;
    while (done < r.length) {
      const n = readSync(fd, bytes, done, r.length - done, r.offset + done);
      if (n === 0) throw modelError(`external data file '${r.location}' ended early while reading ${label}`);
      done += n;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}

function isOutside(rel: string): boolean {
  return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
}

/**
 * Checks every external tensor's location (confined to the model's folder) and extent (within its file),
 * then either leaves the data on disk for lazy reading (`sources`) or, when `eager`, reads it into
 * raw_data. Either way the external fields are dropped, so that the rest of the loader sees ordinary
 * tensors.
 */
async function readExternalData(model: ModelProto, baseDir: string | undefined, label: string, eager: boolean): Promise<ExternalRead> {
  const result: ExternalRead = { tensors: new WeakSet(), sources: new WeakMap(), files: [] };
  const list: TensorProto[] = [];
  // The parts of sparse tensors are read at load (the IR holds sparse tensors densified).
  const sparseParts = new WeakSet<TensorProto>();
  forEachTensorProto(model, (t, sparse) => {
    if (t.dataLocation === DATA_LOCATION_EXTERNAL) list.push(t);
    if (sparse) sparseParts.add(t);
  });
  if (list.length === 0) return result;

  interface Want {
    tensor: TensorProto;
    name: string;
    location: string;
    offset: number;
    length: number | undefined;
  }
  const byFile = new Map<string, Want[]>();
  let realBase: string | undefined;
  for (const t of list) {
    const name = t.name ?? '';
    const kv = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const location = kv.get('location') ?? '';
    const what = `tensor '${name}'`;
    if (location === '') throw modelError(`${what} is marked as external data but names no location`);
    if (baseDir === undefined) {
      throw modelError(`${what} keeps its data in the external file '${location}', but ${label} came without a folder to find it in`, 'pass { baseDir } to loadModel, or load the model from its file');
    }
    if (isAbsolute(location) || /^[a-zA-Z]:[\\/]/.test(location) || location.startsWith('\\')) {
      throw modelError(`${what} has external data location '${location}', an absolute path; ONNX external data must be relative to the model's folder`);
    }
    realBase ??= await realpath(baseDir).catch(() => resolve(baseDir!));
    const target = resolve(realBase, location);
    if (isOutside(relative(realBase, target))) {
      throw modelError(`${what} has external data location '${location}', which points outside the model's folder`);
    }
    let real: string;
    try {
      real = await realpath(target);
    } catch {
      throw modelError(`${what} keeps its data in '${location}', which does not exist next to the model (in ${baseDir})`);
    }
    if (isOutside(relative(realBase, real))) {
      throw modelError(`${what} has external data location '${location}', a symbolic link that leads outside the model's folder`);
    }
    const offset = parseSize(kv.get('offset'), what, 'offset') ?? 0;
    // Without a length the data runs to the end of the file (onnx's reading); we read what the dims need,
    // so that a file shared by several tensors still works, and say which file was short.
    const needed = expectedBytes(t);
    const length = parseSize(kv.get('length'), what, 'length') ?? needed;
    if (needed !== undefined && length !== undefined && length !== needed) {
      throw modelError(`${what} has external data length ${length} in '${location}', but its ${dimsText(t)} need ${needed} bytes`);
    }
    const wants = byFile.get(real) ?? [];
    wants.push({ tensor: t, name, location, offset, length });
    byFile.set(real, wants);
  }

  for (const [file, wants] of byFile) {
    const handle = await open(file, 'r').catch((e: NodeJS.ErrnoException) => {
      throw modelError(`cannot read external data file '${wants[0]!.location}': ${e.code === 'EISDIR' ? 'it is a folder' : oneLine(e)}`);
    });
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw modelError(`external data file '${wants[0]!.location}' is not a regular file`);
      for (const w of wants) {
        const length = w.length ?? info.size - w.offset;
        if (w.offset + length > info.size || length < 0) {
          throw modelError(`tensor '${w.name}' wants bytes ${w.offset} to ${w.offset + length} of '${w.location}', which has only ${info.size}`, 'the data file is truncated or belongs to another model');
        }
        const t = w.tensor as TensorProto & Record<string, unknown>;
        if (eager || sparseParts.has(w.tensor)) {
          const bytes = new Uint8Array(length);
          let done = 0;
          while (done < length) {
            const { bytesRead } = await handle.read(bytes, done, length - done, w.offset + done);
            if (bytesRead === 0) throw modelError(`external data file '${w.location}' ended early while reading tensor '${w.name}'`);
            done += bytesRead;
          }
          t.rawData = bytes;
        } else {
          result.sources.set(w.tensor, { path: file, location: w.location, offset: w.offset, length, size: info.size, mtimeMs: info.mtimeMs });
        }
        delete t.externalData;
        delete t.dataLocation;
        result.tensors.add(w.tensor);
      }
    } finally {
      await handle.close();
    }
    result.files.push(file);
  }
  return result;
}

/** Canonical array entries of a tensor (elements, twice for the complex types). */
function expectedEntries(t: TensorProto): number {
  let n = entriesPerElement(t.dataType ?? 0);
  for (const d of t.dims ?? []) n *= int64ToNumber(d);
  return n;
}

/** Raw bytes a tensor's dims and type need, when that can be known. */
function expectedBytes(t: TensorProto): number | undefined {
  const type = t.dataType ?? 0;
  if (!isKnownDataType(type) || type === DataType.STRING) return undefined;
  let n = entriesPerElement(type);
  for (const d of t.dims ?? []) n *= int64ToNumber(d);
  return Number.isSafeInteger(n) && n >= 0 ? rawByteLength(type, n) : undefined;
}

function dimsText(t: TensorProto): string {
  return `${dataTypeName(t.dataType ?? 0)} [${(t.dims ?? []).map(int64ToNumber).join(',')}]`;
}

function parseSize(text: string | undefined, what: string, key: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim())) throw modelError(`${what} has external data ${key} '${text}', which is not a byte count`);
  return Number(text.trim());
}

// ---------------------------------------------------------------------------------------------------
// Proto -> IR

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Lossy = new TextDecoder('utf-8', { ignoreBOM: true });

/** Attribute bytes as text; `exact` is false when they were not UTF-8 (the raw bytes are then kept). */
function bytesToText(b: Uint8Array): { text: string; exact: boolean } {
  try {
    return { text: utf8.decode(b), exact: true };
  } catch {
    return { text: utf8Lossy.decode(b), exact: false };
  }
}

/** An int64 as the IR holds INT attributes: a number when exact, else a bigint. */
function intValue(v: Int64 | undefined): IntValue {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  const n = v.toNumber();
  return Number.isSafeInteger(n) ? n : int64ToBigInt(v);
}

/** The IR type of a TypeProto: tensors are modelled, everything else is carried as the decoded proto. */
export function typeFromProto(tp: TypeProto): TypeInfo {
  const tt = tp.tensorType;
  if (tp.value === 'tensorType' && tt) {
    const info: TypeInfo & { kind: 'tensor' } = { kind: 'tensor', elemType: tt.elemType ?? 0 };
    if (tt.shape) {
      const dims = tt.shape.dim ?? [];
      info.shape = dims.map((d): Dim => (d.value === 'dimValue' ? int64ToNumber(d.dimValue) : d.value === 'dimParam' ? (d.dimParam ?? '') : null));
      if (dims.some((d) => has(d, 'denotation'))) info.dimDenotations = dims.map((d) => (has(d, 'denotation') ? d.denotation : undefined));
    }
    if (has(tp, 'denotation')) info.denotation = tp.denotation;
    return info;
  }
  return { kind: 'other', proto: tp };
}

const NODE_REST = ['metadataProps', 'deviceConfigurations'] as const;
const NODE_SCALARS = ['name', 'opType', 'domain'] as const;
const GRAPH_REST = ['quantizationAnnotation', 'metadataProps'] as const;

class Converter {
  /** Every graph built, to snapshot their values once the whole model is read. */
  private readonly graphs: Graph[] = [];

  constructor(
    private readonly external: WeakSet<TensorProto>,
    private readonly sources: WeakMap<TensorProto, ExternalRegion>,
  ) {}

  /** An IR tensor of a TensorProto: decoded now, or (external data left on disk) when first used. */
  private tensor(tp: TensorProto, label: string): Tensor {
    const region = this.sources.get(tp);
    if (!region) return tensorFromProto(tp, label, this.external.has(tp));
    return tensorFromProto(tp, label, true, {
      path: region.path,
      offset: region.offset,
      length: region.length,
      read: () => decodeRawData(tp.dataType ?? 0, readRegion(region, label), expectedEntries(tp), label, true),
      verify: () => {
        let info;
        try {
          info = statSync(region.path);
        } catch (e) {
          throw modelError(`cannot read the external data of ${label} from '${region.location}': ${oneLine(e)}`);
        }
        verifyRegion(region, label, info.size, info.mtimeMs);
      },
    });
  }

  model(p: ModelProto, externalFiles: string[]): Model {
    const graph = this.graph(p.graph!, undefined, 'the main graph');
    const opsets: OpsetImport[] = [];
    const opsetProtos = new Map<string, OperatorSetIdProto>();
    for (const o of p.opsetImport ?? []) {
      opsets.push({ domain: o.domain ?? '', version: int64ToNumber(o.version) });
      opsetProtos.set(o.domain ?? '', o);
    }
    const model = new Model(graph, int64ToNumber(p.irVersion), opsets);
    if (has(p, 'producerName')) model.producerName = p.producerName;
    if (has(p, 'producerVersion')) model.producerVersion = p.producerVersion;
    if (has(p, 'domain')) model.domain = p.domain;
    if (has(p, 'modelVersion')) model.modelVersion = intValue(p.modelVersion);
    if (has(p, 'docString')) model.docString = p.docString;
    for (const e of p.metadataProps ?? []) model.metadataProps.push({ key: e.key ?? '', value: e.value ?? '' });
    for (const f of p.functions ?? []) model.functions.push(this.function(f));
    const encoding: ModelEncoding = {
      kind: 'onnx.model',
      ...keep(p, ['trainingInfo', 'configuration'], []),
      opsets: opsetProtos,
      externalFiles,
    };
    model.encoding = encoding;
    // A subgraph's output may name an outer value whose type is only known once its own graph is done:
    // snapshots are taken at the very end, so that an unchanged model regenerates nothing.
    for (const g of this.graphs) {
      for (const [v, entry] of (g.encoding as GraphEncoding).valueInfos) entry.snapshot = snapshotOf(v);
    }
    sortIfNeeded(model.graph);
    for (const f of model.functions) sortIfNeeded(f.body);
    return model;
  }

  private function(f: FunctionProto): LocalFunction {
    const name = f.name ?? '';
    const where = `function '${name}'`;
    const body = new Graph(name);
    const local = new Map<string, Value>();
    const encoding: GraphEncoding = { kind: 'onnx.graph', rest: {}, presence: [], valueInfos: new Map(), foreignValueInfo: [] };
    body.encoding = encoding;
    this.graphs.push(body);
    for (const n of f.input ?? []) body.inputs.push(this.define(body, local, n, where));
    this.nodes(body, local, f.node ?? [], where);
    for (const n of f.output ?? []) body.outputs.push(this.resolveOutput(body, n, where));
    this.valueInfos(body, local, f.valueInfo ?? []);
    const fn: LocalFunction = {
      name,
      domain: f.domain ?? '',
      attributeNames: [...(f.attribute ?? [])],
      attributeDefaults: (f.attributeProto ?? []).map((a) => this.attribute(a, undefined, where)),
      opsetImports: (f.opsetImport ?? []).map((o) => ({ domain: o.domain ?? '', version: int64ToNumber(o.version) })),
      body,
    };
    if (has(f, 'overload')) fn.overload = f.overload;
    if (has(f, 'docString')) fn.docString = f.docString;
    const opsets = new Map((f.opsetImport ?? []).map((o) => [o.domain ?? '', o]));
    const enc: FunctionEncoding = { kind: 'onnx.function', ...keep(f, ['metadataProps'], ['name', 'domain']), opsets };
    fn.encoding = enc;
    return fn;
  }

  /** Builds a graph; `outer` is the enclosing graph for subgraphs. */
  graph(p: GraphProto, outer: Graph | undefined, where: string): Graph {
    const g = new Graph(p.name ?? '', outer);
    if (has(p, 'docString')) g.docString = p.docString;
    const encoding: GraphEncoding = { kind: 'onnx.graph', ...keep(p, GRAPH_REST, ['name']), valueInfos: new Map(), foreignValueInfo: [] };
    g.encoding = encoding;
    this.graphs.push(g);
    const local = new Map<string, Value>();

    for (const vi of p.input ?? []) {
      const v = this.define(g, local, vi.name ?? '', where);
      g.inputs.push(v);
      this.valueInfo(g, v, vi, 'input');
    }
    for (const tp of p.initializer ?? []) {
      const name = tp.name ?? '';
      if (name === '') throw modelError(`an initializer of ${where} has no name`);
      const tensor = this.tensor(tp, `initializer '${name}'`);
      // IR < 4 lists initializers among the graph inputs too: the input is then the constant itself.
      const existing = local.get(name);
      const v = existing && g.inputs.includes(existing) && !existing.initializer ? existing : this.define(g, local, name, where);
      v.initializer = tensor;
      g.initializers.push(v);
    }
    for (const sp of p.sparseInitializer ?? []) {
      const name = sp.values?.name ?? '';
      if (name === '') throw modelError(`a sparse initializer of ${where} has no name`);
      const tensor = sparseFromProto(sp, `sparse initializer '${name}'`);
      const existing = local.get(name);
      const v = existing && g.inputs.includes(existing) && !existing.initializer ? existing : this.define(g, local, name, where);
      v.initializer = tensor;
      g.sparseInitializers.push(v);
    }
    this.nodes(g, local, p.node ?? [], where);
    for (const vi of p.output ?? []) {
      const v = this.resolveOutput(g, vi.name ?? '', where);
      g.outputs.push(v);
      this.valueInfo(g, v, vi, 'output');
    }
    this.valueInfos(g, local, p.valueInfo ?? []);
    return g;
  }

  /** Registers a new value of `g`'s own scope; a name defined twice in one scope is a broken model. */
  private define(g: Graph, local: Map<string, Value>, name: string, where: string): Value {
    if (name === '') throw modelError(`${where} has a value without a name`);
    if (local.has(name)) throw modelError(`'${name}' is defined twice in ${where}`);
    const v = new Value(g, name);
    g.register(v);
    local.set(name, v);
    return v;
  }

  private resolveOutput(g: Graph, name: string, where: string): Value {
    const v = name === '' ? undefined : g.value(name);
    if (!v) throw modelError(`output '${name}' of ${where} is not produced by any node, input or initializer`);
    return v;
  }

  /**
   * Creates the nodes and their outputs first, then their attributes (so that subgraphs can read any
   * value of this graph, even one produced later in an unsorted file), then wires the inputs.
   */
  private nodes(g: Graph, local: Map<string, Value>, protos: NodeProto[], where: string): void {
    const built: Node[] = [];
    for (const np of protos) {
      const node = new Node(np.opType ?? '', np.domain ?? '', np.name ?? '');
      if (has(np, 'overload')) node.overload = np.overload;
      if (has(np, 'docString')) node.docString = np.docString;
      const enc: NodeEncoding = { kind: 'onnx.node', ...keep(np, NODE_REST, NODE_SCALARS) };
      if (np.domain === 'ai.onnx') enc.domain = np.domain;
      node.encoding = enc;
      if (np.metadataProps?.length) node.metadata = new Map(np.metadataProps.map((e) => [e.key ?? '', e.value ?? '']));
      (np.output ?? []).forEach((name, i) => node.setOutput(i, name === '' ? null : this.define(g, local, name, where)));
      g.insertNode(node);
      built.push(node);
    }
    built.forEach((node, k) => {
      const np = protos[k]!;
      const at = `${node.describe()} in ${where}`;
      for (const a of np.attribute ?? []) node.setAttr(this.attribute(a, g, at));
    });
    built.forEach((node, k) => {
      for (const name of protos[k]!.input ?? []) {
        if (name === '') {
          node.addInput(null);
          continue;
        }
        const v = g.value(name);
        if (!v) throw modelError(`${node.describe()} in ${where} reads '${name}', which no node, input or initializer defines`);
        node.addInput(v);
      }
    });
  }

  /** Records one ValueInfoProto occurrence; the first one carrying a type (or doc) gives the value its own. */
  private valueInfo(g: Graph, v: Value, vi: ValueInfoProto, role: 'input' | 'output' | 'valueInfo'): void {
    const enc = g.encoding as GraphEncoding;
    const entry = enc.valueInfos.get(v) ?? { snapshot: '' };
    entry[role] = vi;
    enc.valueInfos.set(v, entry);
    if (v.graph !== g) return; // a subgraph output naming an outer value: that value's type is its own graph's
    if (v.type === undefined && vi.type) v.type = typeFromProto(vi.type);
    if (v.docString === undefined && has(vi, 'docString')) v.docString = vi.docString;
  }

  private valueInfos(g: Graph, local: Map<string, Value>, list: ValueInfoProto[]): void {
    const enc = g.encoding as GraphEncoding;
    for (const vi of list) {
      const v = local.get(vi.name ?? '');
      if (v) {
        g.valueInfo.push(v);
        this.valueInfo(g, v, vi, 'valueInfo');
      } else {
        enc.foreignValueInfo.push({ index: g.valueInfo.length, proto: vi });
      }
    }
  }

  private attribute(a: AttributeProto, graph: Graph | undefined, where: string): Attribute {
    const name = a.name ?? '';
    const type = a.type || inferAttributeType(a);
    const at = `attribute '${name}' of ${where}`;
    const extras: AttributeExtras = { ...keep(a, [], ['name', 'docString', 'refAttrName', 'type']), valuePresent: false };
    let attr: Attribute;
    switch (type) {
      case AttrType.FLOAT:
        attr = { name, type, value: a.f ?? 0 };
        extras.valuePresent = has(a, 'f');
        break;
      case AttrType.INT:
        attr = { name, type, value: intValue(a.i) };
        extras.valuePresent = has(a, 'i');
        break;
      case AttrType.STRING: {
        const raw = a.s ?? new Uint8Array(0);
        const { text, exact } = bytesToText(raw);
        attr = { name, type, value: text };
        if (!exact) extras.bytes = { text, raw: copyBytes(raw) };
        extras.valuePresent = has(a, 's');
        break;
      }
      case AttrType.TENSOR:
        extras.valuePresent = a.t !== undefined && a.t !== null;
        attr = { name, type, value: a.t ? this.tensor(a.t, `the tensor of ${at}`) : new Tensor(DataType.FLOAT, [0], new Float32Array(0)) };
        break;
      case AttrType.GRAPH:
        extras.valuePresent = a.g !== undefined && a.g !== null;
        attr = { name, type, value: a.g ? this.graph(a.g, graph, `the subgraph '${name}' of ${where}`) : new Graph(name, graph) };
        break;
      case AttrType.FLOATS:
        attr = { name, type, value: Array.from(a.floats ?? []) };
        break;
      case AttrType.INTS:
        attr = { name, type, value: (a.ints ?? []).map(intValue) };
        break;
      case AttrType.STRINGS: {
        const raws = a.strings ?? [];
        const decoded = raws.map(bytesToText);
        const texts = decoded.map((d) => d.text);
        attr = { name, type, value: texts };
        if (decoded.some((d) => !d.exact)) extras.bytes = { text: [...texts], raw: raws.map(copyBytes) };
        break;
      }
      case AttrType.TENSORS:
        attr = { name, type, value: (a.tensors ?? []).map((t, i) => this.tensor(t, `tensor ${i} of ${at}`)) };
        break;
      case AttrType.GRAPHS:
        attr = { name, type, value: (a.graphs ?? []).map((g, i) => this.graph(g, graph, `subgraph ${i} of ${at}`)) };
        break;
      case AttrType.SPARSE_TENSOR:
        attr = { name, type, value: a.sparseTensor };
        extras.valuePresent = a.sparseTensor !== undefined && a.sparseTensor !== null;
        break;
      case AttrType.SPARSE_TENSORS:
        attr = { name, type, value: a.sparseTensors ?? [] };
        break;
      case AttrType.TYPE_PROTO:
        attr = { name, type, value: a.tp };
        extras.valuePresent = a.tp !== undefined && a.tp !== null;
        break;
      case AttrType.TYPE_PROTOS:
        attr = { name, type, value: a.typeProtos ?? [] };
        break;
      default:
        attr = { name, type: 0, value: undefined };
        break;
    }
    if (has(a, 'refAttrName')) attr.refAttrName = a.refAttrName;
    if (has(a, 'docString')) attr.docString = a.docString;
    attributeExtras.set(attr, extras);
    return attr;
  }
}

/** IR version 1 attributes had no type field: tell it from the field that is set. */
function inferAttributeType(a: AttributeProto): number {
  if (has(a, 'f')) return AttrType.FLOAT;
  if (has(a, 'i')) return AttrType.INT;
  if (has(a, 's')) return AttrType.STRING;
  if (a.t) return AttrType.TENSOR;
  if (a.g) return AttrType.GRAPH;
  if (a.sparseTensor) return AttrType.SPARSE_TENSOR;
  if (a.tp) return AttrType.TYPE_PROTO;
  if (a.floats?.length) return AttrType.FLOATS;
  if (a.ints?.length) return AttrType.INTS;
  if (a.strings?.length) return AttrType.STRINGS;
  if (a.tensors?.length) return AttrType.TENSORS;
  if (a.graphs?.length) return AttrType.GRAPHS;
  if (a.sparseTensors?.length) return AttrType.SPARSE_TENSORS;
  if (a.typeProtos?.length) return AttrType.TYPE_PROTOS;
  return AttrType.UNDEFINED;
}

/** True when every node of `g` (and of its subgraphs) comes after the producers of what it reads. */
function isSorted(g: Graph): boolean {
  const seen = new Set<Node>();
  for (const n of g.nodes) {
    for (const v of nodeDependencies(n)) {
      // Values of enclosing graphs are defined before this graph runs; only this graph's order matters.
      if (v.graph === g && v.producer && !seen.has(v.producer)) return false;
    }
    seen.add(n);
    for (const sg of n.subgraphs()) if (!isSorted(sg)) return false;
  }
  return true;
}

/** Sorts only a graph that needs it, so that a valid file's node order is kept exactly. */
function sortIfNeeded(g: Graph): void {
  if (isSorted(g)) return;
  try {
    topologicalSort(g);
  } catch (e) {
    // The cycle message names nodes, and node names come from the file: keep it one printable line.
    throw e instanceof ModelError ? modelError(e.message, e.hint) : e;
  }
}
