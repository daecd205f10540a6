/**
 * ONNX's own backend node tests (Debian's libonnx-testdata: data/node/<case>/model.onnx and
 * test_data_set_N/input_K.pb, output_K.pb), run in our Session and compared with numpy's assert_allclose
 * rule. Shared by test/runtime/conformance.test.ts and scripts/ops-doc.mjs (which prints pass counts in
 * docs/ops.md). A case is "claimed" when every node of it, subgraphs included, has a kernel in our
 * registry at the model's opset; unclaimed cases are counted, never run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataType, dataTypeName, isFloatType } from '../../src/core/dtype.js';
import type { Model } from '../../src/ir/model.js';
import type { NumericArray, Tensor } from '../../src/ir/tensor.js';
import { loadModel, readTensorProto } from '../../src/onnx/index.js';
import { findKernel } from '../../src/runtime/registry.js';
import type { BackendName } from '../../src/runtime/backend.js';
import { Session } from '../../src/runtime/session.js';
import { decodeToNumbers, RTensor } from '../../src/runtime/value.js';
import { testBackend } from '../helpers/backend.js';

/** numpy.testing.assert_allclose defaults used by ONNX's backend test runner for these cases. */
export const RTOL = 1e-3;
export const ATOL = 1e-7;

/** The data/node folder of libonnx-testdata, found through dpkg, or undefined when not installed. */
export function nodeTestDir(): string | undefined {
  const guess = '/usr/share/libonnx-testdata/data/node';
  try {
    const files = execFileSync('dpkg', ['-L', 'libonnx-testdata'], { encoding: 'utf8' }).split('\n');
    const model = files.find((f) => /\/node\/[^/]+\/model\.onnx$/.test(f));
    if (model) return model.replace(/\/[^/]+\/model\.onnx$/, '');
  } catch {
    // dpkg missing (not Debian): fall back to the package's usual path.
  }
  return existsSync(guess) ? guess : undefined;
}

export interface ConformanceCase {
  name: string;
  dir: string;
  model: Model;
  /** Distinct op types of the model (subgraphs included), sorted. */
  ops: string[];
  /** The node test's op type: the main graph's single op type, or 'composite' for expanded function bodies. */
  group: string;
  /** (domain, op, opset) entries with no kernel; empty when the case is claimed. */
  missing: string[];
}

/** Every op of a model with the opset it is resolved at, subgraphs and local functions included. */
function opUses(model: Model): { domain: string; opType: string; opset: number | undefined }[] {
  const out: { domain: string; opType: string; opset: number | undefined }[] = [];
  const fnNames = new Set(model.functions.map((f) => `${f.domain}:${f.name}`));
  for (const n of model.graph.allNodes()) {
    if (fnNames.has(`${n.domain}:${n.opType}`)) continue;
    out.push({ domain: n.domain, opType: n.opType, opset: model.opset(n.domain) ?? (n.domain === '' ? undefined : 1) });
  }
  for (const f of model.functions) {
    for (const n of f.body.allNodes()) {
      const imp = f.opsetImports.find((o) => (o.domain === 'ai.onnx' ? '' : o.domain) === n.domain)?.version;
      out.push({ domain: n.domain, opType: n.opType, opset: imp ?? model.opset(n.domain) });
    }
  }
  return out;
}

/** Loads one case and works out whether our registry claims it. */
export async function loadCase(root: string, name: string): Promise<ConformanceCase> {
  const dir = join(root, name);
  const model = await loadModel(join(dir, 'model.onnx'));
  const uses = opUses(model);
  const missing = new Set<string>();
  for (const u of uses) {
    if (u.opset === undefined || !findKernel(u.domain, u.opType, u.opset)) missing.add(`${u.domain ? u.domain + '.' : ''}${u.opType}@${u.opset ?? '?'}`);
  }
  const key = (domain: string, opType: string) => (domain ? `${domain}.${opType}` : opType);
  const ops = [...new Set(uses.map((u) => key(u.domain, u.opType)))].sort();
  // Grouped by the main graph's op type (If/Loop/Scan cases by theirs, whatever their bodies use).
  const top = [...new Set(model.graph.nodes.map((n) => key(n.domain, n.opType)))];
  return { name, dir, model, ops, group: top.length === 1 ? top[0]! : 'composite', missing: [...missing].sort() };
}

/** Loads every case folder under `root`, in name order. */
export async function loadCases(root: string): Promise<ConformanceCase[]> {
  const names = readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'model.onnx')))
    .map((d) => d.name)
    .sort();
  const out: ConformanceCase[] = [];
  for (const n of names) out.push(await loadCase(root, n));
  return out;
}

/** The test_data_set_* folders of a case. */
export function dataSets(dir: string): string[] {
  return readdirSync(dir)
    .filter((d) => d.startsWith('test_data_set_'))
    .sort()
    .map((d) => join(dir, d));
}

function readIndexed(dir: string, prefix: 'input' | 'output'): Tensor[] {
  const files = readdirSync(dir)
    .filter((f) => f.startsWith(`${prefix}_`) && f.endsWith('.pb'))
    .sort((a, b) => Number(a.slice(prefix.length + 1, -3)) - Number(b.slice(prefix.length + 1, -3)));
  return files.map((f) => readTensorProto(readFileSync(join(dir, f)), join(dir, f)));
}

/**
 * Compares our output with the expected tensor: same type and shape; floats by |a - b| <= atol +
 * rtol |b| with NaN equal to NaN; integers, bools and strings exactly. Returns a one-line description
 * of the first problem, or undefined when they agree.
 */
export function compareTensor(actual: RTensor, expected: Tensor, label: string): string | undefined {
  if (actual.dataType !== expected.dataType) return `${label}: type ${dataTypeName(actual.dataType)}, expected ${dataTypeName(expected.dataType)}`;
  if (actual.dims.length !== expected.dims.length || actual.dims.some((d, i) => d !== expected.dims[i])) {
    return `${label}: shape [${actual.dims.join(',')}], expected [${expected.dims.join(',')}]`;
  }
  const t = expected.dataType;
  if (t === DataType.STRING) {
    const a = actual.host() as Uint8Array[];
    const e = expected.data as Uint8Array[];
    const dec = new TextDecoder();
    for (let i = 0; i < e.length; i++) if (dec.decode(a[i]) !== dec.decode(e[i])) return `${label}[${i}]: '${dec.decode(a[i])}', expected '${dec.decode(e[i])}'`;
    return undefined;
  }
  if (t === DataType.INT64 || t === DataType.UINT64) {
    const a = actual.host() as BigInt64Array;
    const e = expected.data as BigInt64Array;
    for (let i = 0; i < e.length; i++) if (a[i] !== e[i]) return `${label}[${i}]: ${a[i]}, expected ${e[i]}`;
    return undefined;
  }
  const a = actual.numbers();
  const e = decodeToNumbers(t, expected.data as NumericArray);
  if (!isFloatType(t)) {
    for (let i = 0; i < e.length; i++) if (a[i] !== e[i]) return `${label}[${i}]: ${a[i]}, expected ${e[i]}`;
    return undefined;
  }
  let bad = -1;
  let count = 0;
  let maxDiff = 0;
  for (let i = 0; i < e.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue;
    const d = Math.abs(x - y);
    if (!(d <= ATOL + RTOL * Math.abs(y))) {
      if (bad < 0) bad = i;
      count++;
    }
    if (d > maxDiff || Number.isNaN(d)) maxDiff = d;
  }
  if (bad >= 0) return `${label}: ${count} of ${e.length} elements differ (max |diff| ${maxDiff}); first at ${bad}: ${a[bad]}, expected ${e[bad]}`;
  return undefined;
}

/**
 * Runs every data set of a claimed case on the current backend. Returns undefined on success, or a
 * one-line description of the failure (thrown errors included).
 */
export async function runCase(c: ConformanceCase, backend: BackendName = testBackend): Promise<string | undefined> {
  let session: Session;
  try {
    session = await Session.create(c.model, { backend });
  } catch (e) {
    return `session: ${(e as Error).message}`;
  }
  try {
    for (const ds of dataSets(c.dir)) {
      let inputs: Tensor[];
      let expected: Tensor[];
      try {
        inputs = readIndexed(ds, 'input');
        expected = readIndexed(ds, 'output');
      } catch (e) {
        return `test data: ${(e as Error).message}`;
      }
      const formal = session.inputs;
      if (inputs.length > formal.length) return `${ds}: ${inputs.length} inputs for ${formal.length} graph inputs`;
      const feeds = new Map<string, RTensor>();
      inputs.forEach((t, i) => feeds.set(formal[i]!.name, RTensor.fromIr(t)));
      let outs: Map<string, RTensor>;
      try {
        outs = session.runSync(feeds);
      } catch (e) {
        return `run: ${(e as Error).message}`;
      }
      try {
        const names = session.outputs.map((v) => v.name);
        if (expected.length !== names.length) return `${expected.length} expected outputs for ${names.length} graph outputs`;
        for (let i = 0; i < names.length; i++) {
          const problem = compareTensor(outs.get(names[i]!)!, expected[i]!, `output '${names[i]}'`);
          if (problem) return problem;
        }
      } finally {
        for (const t of outs.values()) t.dispose();
        for (const t of feeds.values()) t.dispose();
      }
    }
    return undefined;
  } finally {
    session.dispose();
  }
}

/** The checked-in skip list: case name -> reason. */
export function readSkips(path: string): Record<string, string> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
}
