/**
 * A model: the top-level graph plus the ModelProto fields around it (IR version, opset imports,
 * producer, metadata, local functions).
 */
import { Graph } from './graph.js';

export interface OpsetImport {
  domain: string;
  version: number;
}

/** A model-local function (FunctionProto); its body is a Graph whose inputs and outputs are the formals. */
export interface LocalFunction {
  name: string;
  domain: string;
  overload?: string;
  /** Attribute names the function takes (the `attribute` field). */
  attributeNames: string[];
  /** Attributes with defaults (the `attribute_proto` field), as decoded by onnx/. */
  attributeDefaults: unknown[];
  opsetImports: OpsetImport[];
  body: Graph;
  docString?: string;
  encoding?: unknown;
}

export class Model {
  irVersion: number;
  readonly opsetImports: OpsetImport[];
  graph: Graph;
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number | bigint;
  docString?: string;
  readonly metadataProps: { key: string; value: string }[] = [];
  readonly functions: LocalFunction[] = [];
  /** Where the model was loaded from (for sizes and external data), if from a file. */
  path?: string;
  /** Opaque extras onnx/ keeps for a faithful save (training_info, configuration, ...). */
  encoding?: unknown;

  constructor(graph: Graph = new Graph('main'), irVersion = 8, opsetImports: OpsetImport[] = [{ domain: '', version: 17 }]) {
    this.graph = graph;
    this.irVersion = irVersion;
    this.opsetImports = opsetImports;
  }

  /** The opset version imported for a domain ('' = ai.onnx), or undefined. */
  opset(domain = ''): number | undefined {
    const d = domain === 'ai.onnx' ? '' : domain;
    return this.opsetImports.find((o) => (o.domain === 'ai.onnx' ? '' : o.domain) === d)?.version;
  }

  /** Sets a domain's opset import (adding it when missing). Raising the default domain's opset may need a
   * matching IR version: call `ensureOpset`, which also raises irVersion. */
  setOpset(domain: string, version: number): void {
    const d = domain === 'ai.onnx' ? '' : domain;
    const o = this.opsetImports.find((x) => (x.domain === 'ai.onnx' ? '' : x.domain) === d);
    if (o) o.version = version;
    else this.opsetImports.push({ domain: d, version });
  }

  /** Makes sure a domain is imported at `version` or above, raising the IR version as ONNX requires. */
  ensureOpset(domain: string, version: number): void {
    const cur = this.opset(domain);
    if (cur === undefined || cur < version) this.setOpset(domain, version);
    if (domain === '' || domain === 'ai.onnx') {
      const ir = minIrVersionForOpset(this.opset('') ?? version);
      if (this.irVersion < ir) this.irVersion = ir;
    }
  }
}

/** The lowest IR version that may import a given ai.onnx opset (onnx/helper.py VERSION_TABLE). */
export function minIrVersionForOpset(opset: number): number {
  if (opset <= 8) return 3;
  if (opset <= 9) return 4;
  if (opset <= 10) return 5;
  if (opset <= 11) return 6;
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  return 11;
}
