/**
 * Kernel lookup by (domain, op type, opset): the highest since-version <= the model's opset wins, as in
 * onnx/reference's op list. The one explicit list of kernels is ops/index.ts.
 */
import type { OpKernel } from './kernel.js';
import { allKernels } from './ops/index.js';

const table = new Map<string, OpKernel[]>();
for (const k of allKernels) {
  const key = `${k.domain}:${k.opType}`;
  const list = table.get(key) ?? [];
  list.push(k);
  list.sort((a, b) => a.since - b.since);
  table.set(key, list);
}

function normDomain(domain: string): string {
  return domain === 'ai.onnx' ? '' : domain;
}

/** The kernel for an op at an opset, or undefined when unsupported. */
export function findKernel(domain: string, opType: string, opset: number): OpKernel | undefined {
  const list = table.get(`${normDomain(domain)}:${opType}`);
  if (!list) return undefined;
  let found: OpKernel | undefined;
  for (const k of list) if (k.since <= opset) found = k;
  return found;
}

/** Every registered (domain, op type) with its since-versions, for docs/ops.md and error hints. */
export function supportedOps(): { domain: string; opType: string; versions: number[] }[] {
  return [...table.values()].map((l) => ({ domain: l[0]!.domain, opType: l[0]!.opType, versions: l.map((k) => k.since) })).sort((a, b) => (a.domain + a.opType).localeCompare(b.domain + b.opType));
}
