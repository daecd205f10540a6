/**
 * Recognising a model that is already quantized (QDQ, QOperator, MatMulNBits, integer ops), which
 * quantize refuses: quantizing dequantized weights again compounds the error and usually grows the model.
 */
import { ModelError } from '../../core/errors.js';
import type { Model } from '../../ir/model.js';

/** Op types that only appear in quantized models (ai.onnx and com.microsoft). */
const quantizedOps = new Set([
  'QuantizeLinear',
  'DequantizeLinear',
  'DynamicQuantizeLinear',
  'QLinearConv',
  'QLinearMatMul',
  'MatMulInteger',
  'ConvInteger',
  'MatMulNBits',
  'MatMulBnb4',
  'MatMulFpQ4',
  'GatherBlockQuantized',
  'MatMulIntegerToFloat',
  'DynamicQuantizeMatMul',
  'QGemm',
  'QAttention',
  'QLinearAdd',
  'QLinearMul',
  'QLinearConcat',
  'QLinearAveragePool',
  'QLinearGlobalAveragePool',
  'QLinearSigmoid',
  'QLinearSoftmax',
  'QLinearLeakyRelu',
  'DynamicQuantizeLSTM',
]);

/** Counts of the quantization ops in the model (subgraphs included), with one example node name each. */
export function quantizedOpsIn(model: Model): Map<string, { count: number; example: string }> {
  const found = new Map<string, { count: number; example: string }>();
  for (const n of model.graph.allNodes()) {
    if (!quantizedOps.has(n.opType)) continue;
    const key = n.domain ? `${n.domain}.${n.opType}` : n.opType;
    const f = found.get(key);
    if (f) f.count++;
    else found.set(key, { count: 1, example: n.name || '(nameless)' });
  }
  return found;
}

/** Throws ModelError (exit 3) when the model is already quantized. */
export function assertNotQuantized(model: Model): void {
  const found = quantizedOpsIn(model);
  if (found.size === 0) return;
  const list = [...found].map(([op, f]) => `${f.count} ${op} (e.g. '${f.example}')`).join(', ');
  throw new ModelError(`the model is already quantized: it has ${list}; quantizing it again would compound the error`, 'quantize the original float model instead');
}
