/**
 * The mixed-precision defaults quantize and gptq share: with fewer than 8 bits asked, the weights that
 * cost accuracy most when rounded coarsely stay at 8 bits, per output channel, as NNCF and TensorRT-Model
 * Optimizer do for int4: the output head, embedding tables and the first convolution (unless
 * --no-keep-sensitive), and every convolution unless the user named Conv among the ops (measured on
 * ppocr-rec-v4: every line misread with 4-bit Convs, none with 4-bit MatMuls; docs/quantize.md).
 */
import type { WeightRole } from '../../ir/weights.js';

const roleNames: Record<WeightRole, string> = { head: 'output head', embedding: 'embedding table', 'first-conv': 'first Conv', body: '' };

/** What decides a weight's precision beyond the bits asked. */
export interface PrecisionPolicy {
  /** The bits the user asked for. */
  bits: number;
  /** Keep the output head, embeddings and first Conv at 8 bits (default true). */
  keepSensitive: boolean;
  /** The user named Conv in --ops: convolutions get the bits asked. */
  convNamed: boolean;
}

/**
 * Why a weight of this role and op type stays at 8 bits under the policy, or undefined when it gets the
 * bits asked. The reason is the one line the plan and the report show.
 */
export function keptAt8Bits(role: WeightRole, op: string, p: PrecisionPolicy): string | undefined {
  if (p.bits >= 8) return undefined;
  if (p.keepSensitive && role !== 'body') return `${roleNames[role]} kept at 8 bits (--no-keep-sensitive quantizes it to ${p.bits})`;
  if (op === 'Conv' && !p.convNamed) return `Conv kept at 8 bits with --bits ${p.bits} (name Conv in --ops to quantize it to ${p.bits})`;
  return undefined;
}
