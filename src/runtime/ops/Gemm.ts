/**
 * Gemm (ONNX): Y = alpha * op(A) @ op(B) + beta * C, op = optional transpose (transA, transB), A and B
 * 2-D, C broadcast to [M, N] (unidirectionally; before opset 7 only with broadcast=1, which only narrowed
 * which models are valid). C is optional from opset 11.
 *
 * Speed: a transposed constant B (PyTorch's Linear exports W [out, in] with transB=1) is transposed once
 * per session (util/constcache.ts), and a [N] bias with alpha = beta = 1 is fused into the product, which
 * the wasm backend runs as one XNNPACK fully-connected call with the bias in its epilogue.
 */
import { isFloatType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import type { Value } from '../../ir/value.js';
import { derived, stable } from '../util/constcache.js';
import { matMul2d, onWasm } from '../util/matmul.js';
import { nativeBiasActivation, nativeMatMul, nativeOps } from '../tensorflow.js';
import { onDevice } from '../util/device.js';
import { RTensor } from '../value.js';

/**
 * The operand as a tensor: on wasm a transposed one is transposed explicitly (once, when constant); a
 * constant one keeps its identity across runs (util/constcache.ts `stable`).
 */
function operand(r: RTensor, transpose: boolean, origin: Value | null): { t: tf.Tensor; transposed: boolean } {
  if (!transpose) return { t: stable(r, origin), transposed: false };
  if (!onWasm()) return { t: r.tf, transposed: true };
  return { t: derived(r, 'T', (t) => tf.transpose(t), origin).t, transposed: false };
}

function run(inputs: readonly (RTensor | null)[], ctx: KernelContext): (RTensor | null)[] {
  const A = required(inputs, 0, ctx);
  const B = required(inputs, 1, ctx);
  const C = inputs[2] ?? null;
  const node = ctx.node;
  const alpha = node.attrFloat('alpha', 1);
  const beta = node.attrFloat('beta', 1);
  const transA = node.attrInt('transA', 0) !== 0;
  const transB = node.attrInt('transB', 0) !== 0;
  if (!isFloatType(A.dataType)) throw new ModelError(`${node.describe()}: integer Gemm is not supported (opset ${ctx.opset})`, 'compute it in float: Cast the operands to FLOAT');
  if (A.rank !== 2 || B.rank !== 2) throw new ModelError(`${node.describe()}: A and B must be 2-D, got [${A.dims.join(',')}] and [${B.dims.join(',')}]`);
  const [m, ka] = transA ? [A.dims[1]!, A.dims[0]!] : [A.dims[0]!, A.dims[1]!];
  const [kb, n] = transB ? [B.dims[1]!, B.dims[0]!] : [B.dims[0]!, B.dims[1]!];
  if (ka !== kb) throw new ModelError(`${node.describe()}: inner dimensions differ: op(A) is [${m},${ka}], op(B) is [${kb},${n}]`);
  if (C) {
    const cd = C.dims;
    const ok = cd.length <= 2 && cd.every((d, i) => d === 1 || d === [m, n][i + 2 - cd.length]);
    if (!ok) throw new ModelError(`${node.describe()}: C [${cd.join(',')}] does not broadcast to [${m},${n}]`);
  }
  onDevice(A, B, C);
  const y = tf.tidy(() => {
    const a = operand(A, transA, node.input(0));
    const b = operand(B, transB, node.input(1));
    const useC = C !== null && beta !== 0;
    const rowBias = useC && C.size === n && (C.rank === 1 || (C.rank === 2 && C.dims[0] === 1));
    if (rowBias && alpha === 1 && beta === 1 && (C.rank === 1 || !C.owned || node.input(2)?.producer?.opType === 'Constant')) {
      // The wasm kernel reads the bias's shape from its buffer, so a reshaped [1, N] C still counts as
      // 2-D there: a constant C gets its own 1-D copy once; a computed [1, N] C takes the unfused path.
      const bias = C.rank === 1 ? stable(C, node.input(2)) : derived(C, 'bias1d', (t) => tf.add(tf.reshape(t, [n]), 0), node.input(2)).t;
      if (!ctx.training && nativeOps()) {
        // TensorFlow at inference: its MatMul (transposes as flags) and BiasAdd, called directly.
        const y = nativeMatMul(a.t, b.t, a.transposed, b.transposed);
        return nativeBiasActivation(y, bias, undefined);
      }
      if (onWasm()) {
        const a2 = a.transposed ? tf.transpose(a.t) : a.t;
        const b2 = b.transposed ? tf.transpose(b.t) : b.t;
        return tf.fused.matMul({ a: a2 as tf.Tensor2D, b: b2 as tf.Tensor2D, bias: bias as tf.Tensor1D });
      }
      return tf.fused.matMul({ a: a.t as tf.Tensor2D, b: b.t as tf.Tensor2D, transposeA: a.transposed, transposeB: b.transposed, bias: bias as tf.Tensor1D });
    }
    let out: tf.Tensor = matMul2d(a.t, b.t, a.transposed, b.transposed);
    if (alpha !== 1) out = tf.mul(out, alpha);
    if (useC) out = tf.add(out, beta === 1 ? C.tf : tf.mul(C.tf, beta));
    return out;
  });
  return [RTensor.fromTf(y, A.dataType)];
}

/**
 * Since-versions 1/6 (broadcast attribute), 7 (multidirectional broadcast of C), 9 (integer types),
 * 11 (C optional) and 13 (bfloat16) compute the same thing on valid models: one kernel serves them.
 */
export const Gemm: OpKernel[] = [{ domain: '', opType: 'Gemm', since: 1, run }];
