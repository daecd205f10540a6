/**
 * Helpers for the report tests: a minimal .npy reader of our own (so that expected numbers do not go
 * through the code under test), fixture paths, and a model onnxruntime refuses to load.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Model } from '../../src/ir/model.js';
import { repoRoot, tinyModel } from '../cli/helpers.js';

/** A little-endian .npy array of float32 or int64, read directly from its bytes. */
export function loadNpy(path: string): { shape: number[]; data: Float32Array | BigInt64Array } {
  const b = readFileSync(path);
  const major = b[6]!;
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.subarray(start, start + hlen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)![1]!;
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)![1]!.split(',').filter((s) => s.trim() !== '').map(Number);
  const body = b.subarray(start + hlen);
  const copy = new Uint8Array(body.length);
  copy.set(body);
  if (descr === '<f4') return { shape, data: new Float32Array(copy.buffer) };
  if (descr === '<i8') return { shape, data: new BigInt64Array(copy.buffer) };
  throw new Error(`loadNpy: dtype ${descr} not handled by the test reader`);
}

/** Absolute path of a file under fixtures/. */
export function fixture(...parts: string[]): string {
  return join(repoRoot(), 'fixtures', ...parts);
}

/** tinyModel with a node of an op nobody registered (com.example Mystery): loads in our IR, not in onnxruntime. */
export function unloadableModel(): Model {
  const m = tinyModel();
  const g = m.graph;
  const relu = g.nodes.find((n) => n.opType === 'Relu')!;
  const mm2 = g.nodes.find((n) => n.opType === 'MatMul' && n.inputs[0] === relu.output(0))!;
  const odd = g.createNode({ opType: 'Mystery', domain: 'com.example', inputs: [relu.output(0)!], outputs: ['odd'] });
  mm2.setInput(0, odd.output(0)!);
  m.ensureOpset('com.example', 1);
  return m;
}
