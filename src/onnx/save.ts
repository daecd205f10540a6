/**
 * IR -> ONNX bytes. Writes back what load.ts kept (encoding.ts), so that an unchanged model saves to the
 * same fields it was read from, and writes files atomically: a temporary file in the target folder,
 * fsync, rename. Weights go to an external data file when asked, when they were external in the source,
 * or when the model would not fit protobuf's 2 GiB.
 *
 * The bytes are deterministic: protobufjs writes fields in field-number order, every list is written in
 * the IR's order, and nothing time- or machine-dependent is recorded.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, realpath, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { DataType } from '../core/dtype.js';
import { ModelError, UsageError } from '../core/errors.js';
import { AttrType, type Attribute } from '../ir/attribute.js';
import type { Graph } from '../ir/graph.js';
import type { LocalFunction, Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { entriesPerElement, type DataSource, type Tensor } from '../ir/tensor.js';
import type { TypeInfo, Value } from '../ir/value.js';
import { decodeRawData, encodeRawData } from './dtypes.js';
import { closeSync, openSync, readSync } from 'node:fs';
import {
  attributeExtras,
  encodingOf,
  restore,
  snapshotOf,
  type FunctionEncoding,
  type GraphEncoding,
  type ModelEncoding,
  type NodeEncoding,
} from './encoding.js';
import {
  DATA_LOCATION_EXTERNAL,
  encodeModelProto,
  toInt64,
  type AttributeProto,
  type FunctionProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type OperatorSetIdProto,
  type TensorProto,
  type TypeProto,
  type ValueInfoProto,
} from './schema.js';
import { tensorByteLength, tensorEncodingOf, tensorToProto, tensorToSparseProto } from './tensors.js';

/** protobuf's hard limit on one message. */
const PROTOBUF_LIMIT = 2 ** 31 - 1;
/**
 * Tensor bytes beyond which a model cannot be one protobuf message: the limit less room for everything
 * that is not tensor data (names, nodes, attributes), generous for any real graph.
 */
const INLINE_TENSOR_LIMIT = PROTOBUF_LIMIT - 64 * 2 ** 20;

export interface ExternalDataOptions {
  /** Tensors of at least this many bytes go to the data file. Default 1024. */
  threshold?: number;
  /** Tensors that were external when loaded stay external whatever their size. Default false. */
  keepExternal?: boolean;
  /** The data file's name, in the model's folder. Default `<model file name>.data`. */
  location?: string;
}

export interface SaveOptions {
  /** Overwrite an existing output (never the model's own input file). */
  force?: boolean;
  /**
   * Where tensor data goes. `true` or an object: tensors over the threshold to an external file.
   * `false`: everything inline (fails over 2 GiB). Default: tensors that were external stay external,
   * and if the model would pass 2 GiB, every tensor over 1 KiB goes external.
   */
  externalData?: boolean | ExternalDataOptions;
  /**
   * Tensors written from memory to the external data file (64 KiB or more) are dropped from memory and
   * read back from the written file when needed (it must then stay in place): for checking a compressed
   * model without holding it twice. Default false.
   */
  releaseWritten?: boolean;
}

/**
 * Serializes a model to ONNX bytes in memory (all tensor data inline), e.g. for onnxruntime's
 * `InferenceSession.create(bytes)`.
 *
 * @throws UsageError when the model would exceed protobuf's 2 GiB limit (save it with external data)
 */
export function serializeModel(model: Model): Uint8Array {
  const estimate = estimateTensorBytes(model);
  if (estimate > INLINE_TENSOR_LIMIT) {
    throw new UsageError(`the model holds ${(estimate / 2 ** 30).toFixed(2)} GiB of tensors, more than one protobuf message can (2 GiB)`, 'save it to a file, where the weights go to external data');
  }
  return encodeModelProto(new ProtoBuilder(undefined).model(model));
}

/**
 * Writes a model to `path` atomically, with its external data file when there is one (see stageModel).
 *
 * @throws UsageError when `path` is the model's own input file, exists without `force`, is a folder, or
 *   its folder does not exist or is not writable
 */
export async function saveModel(model: Model, path: string, options: SaveOptions = {}): Promise<void> {
  const staged = await stageModel(model, path, options);
  try {
    await staged.commit();
  } catch (e) {
    await staged.abort();
    throw e;
  }
}

/** A model written to a staging folder beside its target, not yet in place. */
export interface StagedModel {
  /** The staged model file; its external data file (if any) sits beside it under its final name. */
  readonly path: string;
  /** The staged files: the model, then its data file if any. */
  readonly files: string[];
  /** Moves the files into place (data first: a reader never finds the model beside missing data). */
  commit(): Promise<void>;
  /** Removes the staged files. */
  abort(): Promise<void>;
}

/**
 * Writes a model into a staging folder next to `path` (`.<name>.tmp-<pid>-<random>/`), under the final
 * file names, so that it can be loaded and checked (onnxruntime finds the external data by its final
 * name) before `commit` renames it into place; `abort` leaves nothing behind. Tensor data is streamed:
 * external data is written tensor by tensor, unchanged tensors are copied from their source file without
 * being decoded, and tensors read only for the copy are released again.
 *
 * @throws UsageError as saveModel
 */
export async function stageModel(model: Model, path: string, options: SaveOptions = {}): Promise<StagedModel> {
  const out = resolve(path);
  const force = options.force ?? false;
  await checkTarget(model, out, path, force);

  const plan = planExternalData(model, out, options);
  const bytes = encodeModelProto(new ProtoBuilder(plan).model(model));
  if (bytes.length > PROTOBUF_LIMIT) {
    throw new ModelError(`the model serializes to ${(bytes.length / 2 ** 30).toFixed(2)} GiB, more than protobuf allows (2 GiB), even with its large tensors external`);
  }
  const dataPath = plan && plan.chunks.length > 0 ? join(dirname(out), plan.location) : undefined;
  if (dataPath) await checkDataTarget(model, dataPath, force);

  const stage = join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const abort = () => rm(stage, { recursive: true, force: true }).catch(() => undefined);
  // Where the data file is now: tensors written from memory are read back from it (see writeDataFile).
  const dataFile = { path: '' };
  try {
    await mkdir(stage);
    const files: string[] = [join(stage, basename(out))];
    if (dataPath && plan) {
      files.push(join(stage, plan.location));
      dataFile.path = files[1]!;
      await writeDataFile(dataFile, plan.chunks, options.releaseWritten ?? false);
    }
    await writeFileSynced(files[0]!, bytes);
    let committed = false;
    return {
      path: files[0]!,
      files,
      commit: async () => {
        if (committed) return;
        try {
          if (dataPath) {
            await rename(files[1]!, dataPath);
            dataFile.path = dataPath;
          }
          await rename(files[0]!, out);
          committed = true;
          await syncFolder(dirname(out));
        } catch (e) {
          throw writeError(e, path);
        } finally {
          await abort();
        }
      },
      abort: async () => {
        if (!committed) await abort();
      },
    };
  } catch (e) {
    await abort();
    throw writeError(e, path);
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, at: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, at + done);
    done += bytesWritten;
  }
}

async function writeFileSynced(file: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    await writeAll(handle, bytes, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Bytes copied at a time from a source data file. */
const COPY_PIECE = 16 * 2 ** 20;

/** Tensors written from memory at least this big are dropped from memory once written (read back if needed). */
const MOVE_BYTES = 64 * 1024;

/**
 * Writes the external data file tensor by tensor: a tensor whose data still matches its source file is
 * copied from there (never decoded); any other is encoded when its turn comes and (`releaseWritten`),
 * when big, dropped from memory once written, its data then read back from the written file (`file.path`, which follows the file
 * when it is committed) if anything needs it: a compressed model stays on disk while it is checked. Only
 * one tensor's bytes (or one 16 MiB piece) are in memory at a time beyond what the model holds.
 */
async function writeDataFile(file: { path: string }, chunks: readonly DataChunk[], releaseWritten: boolean): Promise<void> {
  const handle = await open(file.path, 'wx');
  const sources = new Map<string, FileHandle>();
  let piece: Uint8Array | undefined;
  try {
    for (const c of chunks) {
      const t = c.tensor;
      const src = t.source;
      if (src) {
        src.verify?.();
        let from = sources.get(src.path);
        if (!from) {
          from = await open(src.path, 'r');
          sources.set(src.path, from);
        }
        piece ??= new Uint8Array(COPY_PIECE);
        let done = 0;
        while (done < src.length) {
          const want = Math.min(piece.length, src.length - done);
          const { bytesRead } = await from.read(piece, 0, want, src.offset + done);
          if (bytesRead === 0) throw new ModelError(`the data file of tensor '${t.name}' ended early while it was being copied`);
          await writeAll(handle, piece.subarray(0, bytesRead), c.offset + done);
          done += bytesRead;
        }
        t.release();
      } else {
        await writeAll(handle, encodeRawData(t.dataType, t.view()), c.offset);
        if (releaseWritten && c.length >= MOVE_BYTES) t.moveTo(fileSource(file, c.offset, c.length, t, `tensor '${t.name}'`));
      }
    }
    await handle.sync();
  } finally {
    await handle.close();
    await Promise.all([...sources.values()].map((h) => h.close()));
  }
}

/** A tensor's data in a region of a file whose path may change (a staged file once committed). */
function fileSource(file: { path: string }, offset: number, length: number, t: Tensor, label: string): DataSource {
  const dataType = t.dataType;
  const entries = t.size * entriesPerElement(dataType);
  return {
    get path() {
      return file.path;
    },
    offset,
    length,
    read: () => decodeRawData(dataType, readRange(file.path, offset, length, label), entries, label, true),
  };
}

/** Reads `length` bytes at `offset` of a file into a fresh buffer. */
export function readRange(path: string, offset: number, length: number, label: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const bytes = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, bytes, done, length - done, offset + done);
      if (n === 0) throw new ModelError(`the data file '${path}' ended early while reading ${label}`);
      done += n;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}

/** fsync the folder so the rename itself is durable (where the platform allows opening folders). */
async function syncFolder(dir: string): Promise<void> {
  try {
    const h = await open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // Not all platforms can fsync a directory; the data itself is already synced.
  }
}

function writeError(e: unknown, shown: string): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return new UsageError(`cannot write '${shown}': permission denied`);
  if (code === 'ENOSPC') return new UsageError(`cannot write '${shown}': no space left on the device`);
  if (code === 'ENAMETOOLONG') return new UsageError(`cannot write '${shown}': the file name is too long`);
  if (code === 'EISDIR') return new UsageError(`cannot write '${shown}': a folder is in the way`);
  return e;
}

async function realOrSelf(p: string): Promise<string> {
  return realpath(p).catch(() => p);
}

async function checkTarget(model: Model, out: string, shown: string, force: boolean): Promise<void> {
  const real = await realOrSelf(out);
  if (model.path !== undefined && real === (await realOrSelf(resolve(model.path)))) {
    throw new UsageError(`refusing to overwrite the input model '${shown}'`, 'write the result to another path (-o)');
  }
  if (encodingOf<ModelEncoding>(model.encoding, 'onnx.model')?.externalFiles.includes(real)) {
    throw new UsageError(`refusing to overwrite '${shown}': the input model reads its weights from it`, 'write the result to another path (-o)');
  }
  const folder = dirname(out);
  const dirInfo = await stat(folder).catch(() => undefined);
  if (!dirInfo || !dirInfo.isDirectory()) throw new UsageError(`cannot write '${shown}': the folder '${folder}' does not exist`);
  const info = await stat(out).catch(() => undefined);
  if (info?.isDirectory()) throw new UsageError(`cannot write the model to '${shown}': it is a folder`, 'give a file name, e.g. model.onnx');
  if (info && !force) throw new UsageError(`'${shown}' already exists`, 'pass --force to overwrite it');
}

async function checkDataTarget(model: Model, dataPath: string, force: boolean): Promise<void> {
  const enc = encodingOf<ModelEncoding>(model.encoding, 'onnx.model');
  const real = await realOrSelf(dataPath);
  if (enc?.externalFiles.includes(real)) {
    throw new UsageError(`refusing to overwrite '${dataPath}': the input model reads its weights from it`, 'write the result to another folder or file name');
  }
  const info = await stat(dataPath).catch(() => undefined);
  if (info?.isDirectory()) throw new UsageError(`cannot write the external data file '${dataPath}': it is a folder`);
  if (info && !force) throw new UsageError(`the external data file '${dataPath}' already exists`, 'pass --force to overwrite it');
}

// ---------------------------------------------------------------------------------------------------
// External data planning

/** One tensor's place in the external data file; its bytes are written when the file is. */
export interface DataChunk {
  offset: number;
  length: number;
  tensor: Tensor;
}

/** Which tensors go to the data file, and where each lands. */
export class ExternalPlan {
  readonly chunks: DataChunk[] = [];
  private size = 0;

  constructor(
    /** 'threshold': tensors over the threshold; 'keep': tensors that were external when loaded */
    readonly mode: 'threshold' | 'keep',
    readonly threshold: number,
    readonly location: string,
    /** also tensors held in attributes (Constant values), as onnx's convert_attribute does */
    readonly attributes: boolean,
    /** with 'threshold': also every tensor that was external when loaded */
    readonly keepExternal = false,
  ) {}

  /** Whether the plan puts `t`'s data in the data file. */
  wants(t: Tensor, inAttribute: boolean): boolean {
    if (t.dataType === DataType.STRING) return false; // string_data cannot be external
    const wasExternal = tensorEncodingOf(t)?.external ?? false;
    if (this.mode === 'keep' || (this.keepExternal && wasExternal)) return wasExternal;
    const bytes = tensorByteLength(t);
    return bytes > 0 && bytes >= this.threshold && (!inAttribute || this.attributes);
  }

  /** Points `proto` (built without data) at the place of `t`'s bytes in the data file. */
  add(t: Tensor, proto: TensorProto): void {
    const length = tensorByteLength(t);
    // Page-align big tensors so runtimes can mmap them (onnx.proto asks for multiples of 4096); small ones
    // only need element alignment, and 64 bytes keeps the file compact.
    const align = length >= 65536 ? 4096 : 64;
    const offset = Math.ceil(this.size / align) * align;
    this.chunks.push({ offset, length, tensor: t });
    this.size = offset + length;
    proto.externalData = [
      { key: 'location', value: this.location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(length) },
    ];
    proto.dataLocation = DATA_LOCATION_EXTERNAL;
  }
}

/**
 * Decides where tensor data goes for a save to `out` (undefined: all inline). `limit` is the tensor
 * byte count over which the model goes external on its own; a parameter only so tests can lower it.
 */
export function planExternalData(model: Model, out: string, options: SaveOptions, limit = INLINE_TENSOR_LIMIT): ExternalPlan | undefined {
  const defaultLocation = `${basename(out)}.data`;
  const ext = options.externalData;
  if (ext === false) {
    const bytes = estimateTensorBytes(model);
    if (bytes > limit) throw new UsageError(`the model holds ${(bytes / 2 ** 30).toFixed(2)} GiB of tensors, too much to keep inline (protobuf stops at 2 GiB)`, 'allow external data');
    return undefined;
  }
  if (ext !== undefined) {
    const o = ext === true ? {} : ext;
    const threshold = o.threshold ?? 1024;
    if (!Number.isFinite(threshold) || threshold < 0) throw new UsageError(`external data threshold ${threshold} is not a byte count`);
    const location = o.location ?? defaultLocation;
    if (location === '' || isAbsolute(location) || /[\\/]/.test(location) || location === '.' || location === '..') {
      throw new UsageError(`external data location '${location}' must be a plain file name (it goes next to the model)`);
    }
    return new ExternalPlan('threshold', threshold, location, false, o.keepExternal ?? false);
  }
  if (estimateTensorBytes(model) > limit) return new ExternalPlan('threshold', 1024, defaultLocation, true);
  return new ExternalPlan('keep', Infinity, defaultLocation, true);
}

/** Bytes of tensor data in the model (initializers, attribute tensors, function bodies). */
function estimateTensorBytes(model: Model): number {
  let total = 0;
  const graph = (root: Graph): void => {
    for (const g of root.allGraphs()) {
      for (const v of [...g.initializers, ...g.sparseInitializers]) if (v.initializer) total += tensorByteLength(v.initializer);
      for (const n of g.nodes) {
        for (const a of n.attributes.values()) {
          if (a.type === AttrType.TENSOR) total += tensorByteLength(a.value);
          else if (a.type === AttrType.TENSORS) for (const t of a.value) total += tensorByteLength(t);
        }
      }
    }
  };
  graph(model.graph);
  for (const f of model.functions) graph(f.body);
  return total;
}

// ---------------------------------------------------------------------------------------------------
// IR -> proto

const utf8 = new TextEncoder();

function typeToProto(t: TypeInfo): TypeProto {
  if (t.kind === 'other') return t.proto as TypeProto;
  const tensorType: NonNullable<TypeProto['tensorType']> = { elemType: t.elemType };
  if (t.shape) {
    tensorType.shape = {
      dim: t.shape.map((d, i) => {
        const dim: Record<string, unknown> = {};
        if (typeof d === 'number') dim.dimValue = d;
        else if (typeof d === 'string') dim.dimParam = d;
        const den = t.dimDenotations?.[i];
        if (den !== undefined) dim.denotation = den;
        return dim;
      }),
    };
  }
  const out: TypeProto = { tensorType };
  if (t.denotation !== undefined) out.denotation = t.denotation;
  return out;
}

class ProtoBuilder {
  constructor(private readonly plan: ExternalPlan | undefined) {}

  model(m: Model): ModelProto {
    const enc = encodingOf<ModelEncoding>(m.encoding, 'onnx.model');
    const out: ModelProto = {
      irVersion: m.irVersion,
      opsetImport: m.opsetImports.map((o) => this.opset(o.domain, o.version, enc?.opsets.get(o.domain))),
      graph: this.graph(m.graph),
      metadataProps: m.metadataProps.map((e) => ({ key: e.key, value: e.value })),
      functions: m.functions.map((f) => this.function(f)),
    };
    if (m.producerName !== undefined) out.producerName = m.producerName;
    if (m.producerVersion !== undefined) out.producerVersion = m.producerVersion;
    if (m.domain !== undefined) out.domain = m.domain;
    if (m.modelVersion !== undefined) out.modelVersion = toInt64(m.modelVersion);
    if (m.docString !== undefined) out.docString = m.docString;
    return restore(out, enc, {});
  }

  private opset(domain: string, version: number, read: OperatorSetIdProto | undefined): OperatorSetIdProto {
    // Keep an explicitly empty domain as read; a new import writes it, as onnx's helper does.
    const out: OperatorSetIdProto = {};
    if (domain !== '' || !read || Object.prototype.hasOwnProperty.call(read, 'domain')) out.domain = domain;
    out.version = version;
    if (read?.$unknowns?.length) out.$unknowns = read.$unknowns;
    return out;
  }

  private function(f: LocalFunction): FunctionProto {
    const enc = encodingOf<FunctionEncoding>(f.encoding, 'onnx.function');
    const body = f.body;
    const out: FunctionProto = {
      input: body.inputs.map((v) => v.name),
      output: body.outputs.map((v) => v.name),
      attribute: [...f.attributeNames],
      attributeProto: (f.attributeDefaults as Attribute[]).map((a) => this.attribute(a)),
      node: body.nodes.map((n) => this.node(n)),
      opsetImport: f.opsetImports.map((o) => this.opset(o.domain, o.version, enc?.opsets.get(o.domain))),
      valueInfo: this.valueInfoList(body),
    };
    if (f.name !== '') out.name = f.name;
    if (f.domain !== '') out.domain = f.domain;
    if (f.overload !== undefined) out.overload = f.overload;
    if (f.docString !== undefined) out.docString = f.docString;
    return restore(out, enc, { name: '', domain: '' });
  }

  graph(g: Graph): GraphProto {
    const enc = encodingOf<GraphEncoding>(g.encoding, 'onnx.graph');
    const out: GraphProto = {
      node: g.nodes.map((n) => this.node(n)),
      initializer: g.initializers.map((v) => this.tensor(v.initializer!, v.name, false)),
      sparseInitializer: g.sparseInitializers.map((v) => tensorToSparseProto(v.initializer!, v.name)),
      input: g.inputs.map((v) => this.valueInfo(v, 'input', enc)),
      output: g.outputs.map((v) => this.valueInfo(v, 'output', enc)),
      valueInfo: this.valueInfoList(g),
    };
    if (g.name !== '') out.name = g.name;
    if (g.docString !== undefined) out.docString = g.docString;
    return restore(out, enc, { name: '' });
  }

  /** value_info in IR order, with the entries that named no value of the graph back at their places. */
  private valueInfoList(g: Graph): ValueInfoProto[] {
    const enc = encodingOf<GraphEncoding>(g.encoding, 'onnx.graph');
    const list = g.valueInfo.map((v) => this.valueInfo(v, 'valueInfo', enc));
    // Each foreign entry was read after `index` local ones and after the foreign entries before it.
    (enc?.foreignValueInfo ?? []).forEach((f, k) => list.splice(Math.min(f.index + k, list.length), 0, f.proto));
    return list;
  }

  /** A ValueInfoProto: as read while the value's type and doc are unchanged, else regenerated. */
  private valueInfo(v: Value, role: 'input' | 'output' | 'valueInfo', enc: GraphEncoding | undefined): ValueInfoProto {
    const entry = enc?.valueInfos.get(v);
    const read = entry?.[role];
    if (read && entry.snapshot === snapshotOf(v)) {
      if (read.name === v.name) return read;
      const copy: ValueInfoProto = { ...read, name: v.name };
      if (read.$unknowns) copy.$unknowns = read.$unknowns;
      return copy;
    }
    const out: ValueInfoProto = { name: v.name };
    // A subgraph output naming an outer value describes that value: its type is the outer value's.
    if (v.type) out.type = typeToProto(v.type);
    if (v.docString !== undefined) out.docString = v.docString;
    if (read?.metadataProps?.length) out.metadataProps = read.metadataProps;
    if (read?.$unknowns) out.$unknowns = read.$unknowns;
    return out;
  }

  private tensor(t: Tensor, name: string, inAttribute: boolean): TensorProto {
    if (!this.plan?.wants(t, inAttribute)) return tensorToProto(t, name);
    const proto = tensorToProto(t, name, false);
    this.plan.add(t, proto);
    return proto;
  }

  private node(n: Node): NodeProto {
    const enc = encodingOf<NodeEncoding>(n.encoding, 'onnx.node');
    const out: NodeProto = {
      input: n.inputs.map((v) => v?.name ?? ''),
      output: n.outputs.map((v) => v?.name ?? ''),
      opType: n.opType,
      attribute: [...n.attributes.values()].map((a) => this.attribute(a)),
    };
    if (n.name !== '') out.name = n.name;
    const domain = n.domain === '' && enc?.domain ? enc.domain : n.domain;
    if (domain !== '') out.domain = domain;
    if (n.overload !== undefined) out.overload = n.overload;
    if (n.docString !== undefined) out.docString = n.docString;
    return restore(out, enc, { name: '', opType: '', domain: '' });
  }

  private attribute(a: Attribute): AttributeProto {
    const extras = attributeExtras.get(a);
    const out: AttributeProto = { name: a.name };
    // UNDEFINED is written only when the file had it (restore() below puts it back).
    if (a.type !== AttrType.UNDEFINED) out.type = a.type;
    if (a.refAttrName !== undefined) out.refAttrName = a.refAttrName;
    if (a.docString !== undefined) out.docString = a.docString;
    // A value field absent in the file (a function body's reference, or a proto3 writer's omitted
    // zero) stays absent unless something has since set a value.
    const absent = extras !== undefined && !extras.valuePresent;
    switch (a.type) {
      case AttrType.FLOAT:
        if (!absent || !Object.is(a.value, 0)) out.f = a.value;
        break;
      case AttrType.INT:
        if (!absent || a.value !== 0) out.i = toInt64(a.value);
        break;
      case AttrType.STRING: {
        const kept = extras?.bytes;
        if (!absent || a.value !== '') out.s = kept && kept.text === a.value ? (kept.raw as Uint8Array) : utf8.encode(a.value);
        break;
      }
      case AttrType.TENSOR:
        if (!absent) out.t = this.tensor(a.value, a.value.name, true);
        break;
      case AttrType.GRAPH:
        if (!absent) out.g = this.graph(a.value);
        break;
      case AttrType.FLOATS:
        out.floats = a.value;
        break;
      case AttrType.INTS:
        out.ints = a.value.map((v) => toInt64(v));
        break;
      case AttrType.STRINGS: {
        const kept = extras?.bytes;
        const same = kept && Array.isArray(kept.text) && kept.text.length === a.value.length && kept.text.every((s, i) => s === a.value[i]);
        out.strings = same ? (kept.raw as Uint8Array[]) : a.value.map((s) => utf8.encode(s));
        break;
      }
      case AttrType.TENSORS:
        out.tensors = a.value.map((t) => this.tensor(t, t.name, true));
        break;
      case AttrType.GRAPHS:
        out.graphs = a.value.map((g) => this.graph(g));
        break;
      case AttrType.SPARSE_TENSOR:
        if (a.value) out.sparseTensor = a.value as AttributeProto['sparseTensor'];
        break;
      case AttrType.SPARSE_TENSORS:
        out.sparseTensors = a.value as AttributeProto['sparseTensors'];
        break;
      case AttrType.TYPE_PROTO:
        if (a.value) out.tp = a.value as TypeProto;
        break;
      case AttrType.TYPE_PROTOS:
        out.typeProtos = a.value as TypeProto[];
        break;
      default:
        break;
    }
    return restore(out, extras, { name: '', docString: '', refAttrName: '', type: 0 });
  }
}
