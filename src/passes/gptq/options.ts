/**
 * The options of `gptq`, validated once before any work (STYLE.md habit 7): the flags of `compress gptq`
 * camelCased, with CLI.md's defaults.
 */
import { UsageError } from '../../core/errors.js';
import type { BackendName } from '../../runtime/backend.js';
import { rawBackend } from '../shared/raw.js';

/** Code widths GPTQ writes. 2 and 3 bits are stored in a 4-bit container. */
export const gptqBitWidths = [2, 3, 4, 8] as const;
export type GptqBits = (typeof gptqBitWidths)[number];
/** Output formats: com.microsoft.MatMulNBits, or ai.onnx DequantizeLinear (opset 21 blocks) + MatMul. */
export const gptqFormats = ['matmulnbits', 'qdq'] as const;
export type GptqFormat = (typeof gptqFormats)[number];

/** Op types gptq quantizes: MatMul and Gemm weights, and Conv weights as matrices of their input patches. */
export const gptqOps = ['MatMul', 'Gemm', 'Conv'] as const;
export type GptqOp = (typeof gptqOps)[number];

/** Validated options. */
export interface GptqOptions {
  bits: GptqBits;
  /** Weights per scale along K; -1 means one scale per output channel. */
  groupSize: number;
  /** Quantize inputs in order of decreasing Hessian diagonal (groups keep the original order). */
  actOrder: boolean;
  /** Dampening, as a fraction of the mean Hessian diagonal, in (0, 1]. */
  damp: number;
  /** Columns per lazy batch update. */
  blockSize: number;
  symmetric: boolean;
  format: GptqFormat;
  /** Op types quantized (default all three). */
  ops: GptqOp[];
  /** The user named the ops: a Conv named there gets --bits like the others (else 8 bits with fewer). */
  opsGiven: boolean;
  /** With fewer than 8 bits, the output head and first Conv stay at 8 bits (passes/shared/precision.ts). */
  keepSensitive: boolean;
  exclude?: RegExp;
  /** false: statistics of every layer from one sweep of the float model (faster, less accurate). */
  sequential: boolean;
  backend: BackendName;
  dryRun: boolean;
}

export const gptqDefaults: Omit<GptqOptions, 'exclude'> = {
  bits: 4,
  groupSize: 128,
  actOrder: false,
  damp: 0.01,
  blockSize: 128,
  symmetric: false,
  format: 'matmulnbits',
  ops: [...gptqOps],
  opsGiven: false,
  keepSensitive: true,
  sequential: true,
  backend: 'auto',
  dryRun: false,
};

function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

function int(raw: unknown, flag: string, ok: (v: number) => boolean, what: string): number {
  const v = typeof raw === 'number' ? raw : /^\s*[+-]?\d+\s*$/.test(String(raw)) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(v) || !ok(v)) throw new UsageError(`${flag} must be ${what} (got ${String(raw)})`);
  return v;
}

/**
 * Checks and completes gptq options (from the CLI flags or an API caller's object). Throws UsageError
 * naming the flag and its allowed values.
 */
export function parseGptqOptions(raw: unknown): GptqOptions {
  const r = (raw ?? {}) as Record<string, unknown>;
  const o: GptqOptions = { ...gptqDefaults, ops: [...gptqDefaults.ops] };
  if (r.bits !== undefined) {
    const b = int(r.bits, '--bits', (v) => (gptqBitWidths as readonly number[]).includes(v), 'one of 2, 3, 4, 8');
    o.bits = b as GptqBits;
  }
  if (r.groupSize !== undefined) o.groupSize = int(r.groupSize, '--group-size', (v) => v === -1 || v >= 1, '-1 (per output channel) or a positive integer');
  if (r.actOrder !== undefined) o.actOrder = Boolean(r.actOrder);
  if (r.damp !== undefined) {
    const d = Number(r.damp);
    if (!(d > 0 && d <= 1)) throw new UsageError(`--damp must be in (0, 1] (got ${String(r.damp)})`);
    o.damp = d;
  }
  if (r.blockSize !== undefined) o.blockSize = int(r.blockSize, '--block-size', (v) => v >= 1, 'a positive integer');
  if (r.symmetric !== undefined) o.symmetric = Boolean(r.symmetric);
  if (r.format !== undefined) {
    if (!(gptqFormats as readonly string[]).includes(String(r.format))) throw new UsageError(`--format must be one of ${gptqFormats.join(', ')} (got ${String(r.format)})`);
    o.format = String(r.format) as GptqFormat;
  }
  if (r.ops !== undefined && r.ops !== null && r.ops !== '') {
    const list = (Array.isArray(r.ops) ? r.ops.map(String) : String(r.ops).split(',')).map((x) => x.trim()).filter(Boolean);
    const ops: GptqOp[] = [];
    for (const name of list) {
      const hit = gptqOps.find((a) => a.toLowerCase() === name.toLowerCase());
      if (!hit) throw new UsageError(`--ops: '${name}' is not an op type gptq quantizes; use some of ${gptqOps.join(', ')}`);
      if (!ops.includes(hit)) ops.push(hit);
    }
    if (ops.length === 0) throw new UsageError('--ops needs at least one op type', `use some of ${gptqOps.join(', ')}`);
    o.ops = ops;
    o.opsGiven = true;
  }
  if (r.keepSensitive !== undefined) o.keepSensitive = r.keepSensitive !== false && r.keepSensitive !== 'false';
  if (r.exclude !== undefined && r.exclude !== null && r.exclude !== '') {
    try {
      o.exclude = r.exclude instanceof RegExp ? r.exclude : new RegExp(String(r.exclude));
    } catch {
      throw new UsageError(`--exclude '${String(r.exclude)}' is not a valid regular expression`);
    }
  }
  if (r.sequential !== undefined) o.sequential = Boolean(r.sequential);
  o.backend = rawBackend(r) ?? o.backend;
  if (r.dryRun !== undefined) o.dryRun = Boolean(r.dryRun);
  if (o.format === 'matmulnbits' && o.groupSize !== -1 && !(isPow2(o.groupSize) && o.groupSize >= 16)) {
    throw new UsageError(`--group-size ${o.groupSize}: MatMulNBits needs a power of two >= 16 (or -1 for per channel)`, 'use --group-size 32, 64, 128 or 256, or --format qdq for other sizes');
  }
  return o;
}
