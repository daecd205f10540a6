/**
 * The tfjs-node backend ('tensorflow': TensorFlow's own C++ kernels, called one op at a time through
 * tfjs-node's binding), and what compress adds to it when it selects it.
 *
 * Every tfjs op there is one TensorFlow eager op (TFE_Execute, ~8 us of host time at idle) plus tfjs's
 * bookkeeping (~7 us): on small models the number of ops, not their arithmetic, sets the speed. So:
 * 1. Reshape and Transpose without a new int32 tensor per call. tfjs-node's kernels build one for the
 *    target shape or permutation, run TensorFlow's op and free it again: three native calls for what
 *    tfjs's other backends do for free (a reshape), and tfjs-core's own matMul reshapes three times.
 *    Here such constants live in the binding, one per distinct value, and each op is one call.
 * 2. `nativeOp`: any TensorFlow op by name, for the kernels' inference paths (util/matmul.ts's
 *    broadcasting BatchMatMulV2, BiasAdd after a product or conv): no tfjs-core wrapper (its matMul
 *    reshapes to 3-D and back; its fused ops run slower than the plain ones here) and no gradient
 *    recorded, so never in training.
 * 3. A kernel tfjs-node 4.22 lacks and our kernels use: BitwiseAnd (TensorFlow has the op).
 * All of it relies on tfjs-node's NodeJSKernelBackend internals (executeSingleOutput, binding.executeOp,
 * createTensor, createOutputTensor), checked against the releases in TFJS_NODE_VERSIONS; another release
 * runs with tfjs-node's own kernels and no native paths.
 */
import type * as TF from '@tensorflow/tfjs-core';
import type { Logger } from '../core/logger.js';
import type { TfActivation } from './fusion.js';

/** The tfjs-node releases whose backend internals this module was checked against. */
export const TFJS_NODE_VERSIONS = /^4\.22\./;

/** An attribute of a TensorFlow op, as tfjs-node's binding takes it. */
export interface TfAttr {
  name: string;
  type: number;
  value: unknown;
}

/** What this module uses of tfjs-node's binding (tfjs-node binding/tfjs_binding.cc). */
interface Binding {
  TF_FLOAT: number;
  TF_INT32: number;
  TF_BOOL: number;
  TF_ATTR_INT: number;
  TF_ATTR_FLOAT: number;
  TF_ATTR_BOOL: number;
  TF_ATTR_TYPE: number;
  TF_ATTR_STRING: number;
  createTensor(shape: number[], dtype: number, values: Int32Array | Float32Array): number;
  deleteTensor(id: number): void;
  executeOp(name: string, attrs: TfAttr[], inputIds: number[], numOutputs: number): { id: number; shape: number[]; dtype: number }[];
}

/** What this module uses of tfjs-node's NodeJSKernelBackend. */
interface NodeBackend {
  binding: Binding;
  executeSingleOutput(name: string, attrs: TfAttr[], inputs: TF.TensorInfo[]): TF.Tensor;
  getInputTensorIds(inputs: TF.TensorInfo[]): number[];
  createOutputTensor(meta: { id: number; shape: number[]; dtype: number }): TF.Tensor;
}

let active: { tf: typeof TF; backend: NodeBackend } | undefined;

/**
 * Small int32 tensors kept in the binding (Reshape's shapes, Transpose's permutations, reduction axes),
 * by value; and float32 scalars. Bounded: cleared when either grows past the cap.
 */
const int32Consts = new Map<string, number>();
const floatConsts = new Map<string, number>();
const CONST_CACHE_CAP = 4096;

/** A tensor kept in the binding (by its id), usable as an input of nativeOp. */
export interface NativeConst {
  readonly nativeId: number;
}

function keptId(cache: Map<string, number>, key: string, make: (b: Binding) => number): NativeConst {
  const b = active!.backend.binding;
  let id = cache.get(key);
  if (id === undefined) {
    if (cache.size >= CONST_CACHE_CAP) {
      for (const old of cache.values()) b.deleteTensor(old);
      cache.clear();
    }
    id = make(b);
    cache.set(key, id);
  }
  return { nativeId: id };
}

/** The kept int32 tensor [values.length] holding `values`. */
export function int32Const(values: readonly number[]): NativeConst {
  return keptId(int32Consts, values.join(','), (b) => b.createTensor([values.length], b.TF_INT32, Int32Array.from(values)));
}

/** The kept float32 scalar `v`. */
export function floatConst(v: number): NativeConst {
  return keptId(floatConsts, String(v), (b) => b.createTensor([], b.TF_FLOAT, Float32Array.of(v)));
}

/** The `T` attribute (element type) of an op on tensors of `dtype`. */
export function typeAttr(dtype: TF.DataType, name = 'T'): TfAttr {
  const b = active!.backend.binding;
  const value = dtype === 'float32' ? b.TF_FLOAT : dtype === 'int32' ? b.TF_INT32 : dtype === 'bool' ? b.TF_BOOL : -1;
  if (value < 0) throw new Error(`no TensorFlow type for tfjs dtype ${dtype}`);
  return { name, type: b.TF_ATTR_TYPE, value };
}

/** Attribute constructors (TensorFlow's attribute kinds, as tfjs-node's binding numbers them). */
export const attr = {
  int: (name: string, value: number | number[]): TfAttr => ({ name, type: active!.backend.binding.TF_ATTR_INT, value }),
  float: (name: string, value: number): TfAttr => ({ name, type: active!.backend.binding.TF_ATTR_FLOAT, value }),
  bool: (name: string, value: boolean): TfAttr => ({ name, type: active!.backend.binding.TF_ATTR_BOOL, value }),
  string: (name: string, value: string): TfAttr => ({ name, type: active!.backend.binding.TF_ATTR_STRING, value }),
};

/** Whether native ops can run now: the tensorflow backend is current, on a checked tfjs-node release. */
export function nativeOps(): boolean {
  return active !== undefined && active.tf.getBackend() === 'tensorflow';
}

/**
 * Runs TensorFlow's op `name` on `inputs` (tensors of the tensorflow backend) with `attrs`, returning its
 * single output as a tfjs tensor of the current scope. Inference only: no gradient is recorded. Check
 * nativeOps() first.
 */
export function nativeOp(name: string, inputs: (TF.Tensor | NativeConst)[], attrs: TfAttr[]): TF.Tensor {
  const backend = active!.backend;
  const ids = inputs.map((t) => ('nativeId' in t ? t.nativeId : backend.getInputTensorIds([t])[0]!));
  const [out] = backend.binding.executeOp(name, attrs, ids, 1);
  return backend.createOutputTensor(out!);
}

/**
 * oneDNN's kernels by op name, without turning oneDNN on for the whole process. TensorFlow's CPU build
 * registers oneDNN versions of its convolutions and pools as `_MklNative<Op>`, kernels labelled
 * `MklNameChangeOp`; with TF_ENABLE_ONEDNN_OPTS=1 its eager runtime renames ops to them, and TensorFlow
 * prints a notice at load whatever the log level (docs/backends.md), so compress keeps that setting off
 * and asks for the kernels by name and label instead, where they are faster than Eigen's: a 3x3 conv over
 * one input channel 4.6x (Eigen's im2col contracts over 9 taps), 1x1 and 3x3 convs 1.2-1.4x, depthwise
 * convs 1.2-2.7x, and depthwise convs with unequal strides (Eigen's kernel takes equal strides only)
 * 7-10x, and a conv with its bias added in the conv (Conv2DWithBias) saves a pass over the output
 * (CPU time, docs/performance.md). Same products, other summation order: within float32 rounding of
 * TensorFlow's own results. Each op is probed once per process on a tiny conv; without it (a TensorFlow
 * built without oneDNN), `mklOp` answers undefined and callers use the plain op.
 */
const mklProbes = new Map<string, boolean>();

/** Whether TensorFlow has the oneDNN kernel `op`, probed once per process by `probe`. */
function hasMklKernel(op: string, probe: () => boolean): boolean {
  let ok = mklProbes.get(op);
  if (ok === undefined) {
    ok = probe();
    mklProbes.set(op, ok);
  }
  return ok;
}

/** The label that selects a `_MklNative` kernel (TensorFlow's mkl_op_registry kMklNameChangeOpLabel). */
const MKL_LABEL = 'MklNameChangeOp';

/** The convolutions taken in oneDNN's form; Conv2DWithBias adds the bias [M] (a third input) in the conv. */
export type MklConv = 'Conv2D' | 'Conv2DWithBias' | 'DepthwiseConv2dNative';

/**
 * The oneDNN form of TensorFlow's op `name` as an op name and the attribute that selects its kernel, or
 * undefined when this TensorFlow has none. Inference only.
 */
export function mklOp(name: MklConv): { name: string; label: TfAttr } | undefined {
  const op = `_MklNative${name}`;
  return hasMklKernel(op, () => probeMkl(op, name === 'Conv2DWithBias')) ? { name: op, label: attr.string('_kernel', MKL_LABEL) } : undefined;
}

/**
 * Runs oneDNN's conv `op` on a 1x1 image (two channels for a depthwise conv): true when TensorFlow has the
 * kernel. TensorFlow keys its cached oneDNN convs on shapes, and a depthwise conv over one channel shares
 * a dense conv's key but not its filter layout (oneDNN then fails to reorder): our depthwise convs have
 * two channels or more (one group is a dense conv: util/conv.ts's convKind), and so does this probe.
 */
function probeMkl(op: string, withBias: boolean): boolean {
  const c = op.includes('Depthwise') ? 2 : 1;
  const inputs: [number[], number][] = [
    [[1, 1, 1, c], 2],
    [[1, 1, c, 1], 3],
  ];
  if (withBias) inputs.push([[1], 1]);
  return runsOnce(op, inputs, [typeAttr('float32'), attr.int('strides', [1, 1, 1, 1]), attr.string('padding', 'VALID'), attr.string('data_format', 'NHWC'), attr.int('dilations', [1, 1, 1, 1]), attr.string('_kernel', MKL_LABEL)]);
}

/** Runs TensorFlow's op `op` once on float32 inputs (each a shape and the value filling it): true when it ran. */
function runsOnce(op: string, inputs: [number[], number][], attrs: TfAttr[]): boolean {
  const b = active!.backend.binding;
  const ids = inputs.map(([shape, v]) => b.createTensor(shape, b.TF_FLOAT, new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(v)));
  try {
    const [out] = b.executeOp(op, attrs, ids, 1);
    b.deleteTensor(out!.id);
    return true;
  } catch {
    return false;
  } finally {
    for (const id of ids) b.deleteTensor(id);
  }
}

/**
 * Products up to this many multiply-adds (m * k * n) run as oneDNN's _MklMatMul: TensorFlow's MatMul
 * (Eigen's contraction over the same sgemm kernel) costs 3-4.5x the CPU time on small products
 * (256x128x128, 40x120x360) and 1.3-2x up to 256x128x2001, its threading and blocking overhead; from
 * ~1e8 on (40x480x6625, 1024^3) Eigen's is the faster (0.8x and 0.5x). docs/performance.md.
 */
const MKL_MATMUL_MAX = 2 ** 26;

/**
 * The 2-D product a @ b (either transposed by flag) with TensorFlow's MatMul, or oneDNN's for a small
 * product (MKL_MATMUL_MAX) where TensorFlow has it. The choice depends on the shapes only, so the same
 * run gives the same bytes. Inference only.
 */
export function nativeMatMul(a: TF.Tensor, b: TF.Tensor, transposeA = false, transposeB = false): TF.Tensor {
  const [m, k] = transposeA ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
  const n = transposeB ? b.shape[0]! : b.shape[1]!;
  const attrs = [typeAttr('float32'), attr.bool('transpose_a', transposeA), attr.bool('transpose_b', transposeB)];
  if (m * k * n <= MKL_MATMUL_MAX) {
    if (hasMklKernel('_MklMatMul', probeMklMatMul)) return nativeOp('_MklMatMul', [a, b], [...attrs, attr.string('_kernel', MKL_LABEL)]);
  }
  return nativeOp('MatMul', [a, b], attrs);
}

/** Runs oneDNN's MatMul on 1x1 operands: true when TensorFlow has the kernel. */
function probeMklMatMul(): boolean {
  const inputs: [number[], number][] = [
    [[1, 1], 2],
    [[1, 1], 3],
  ];
  return runsOnce('_MklMatMul', inputs, [typeAttr('float32'), attr.bool('transpose_a', false), attr.bool('transpose_b', false), attr.string('_kernel', MKL_LABEL)]);
}

/**
 * act(y + bias) with TensorFlow's BiasAdd (bias [C] along the last axis) and Relu / Relu6 / LeakyRelu:
 * what tfjs's fused products and convs apply, in one native op each. Inference only.
 */
export function nativeBiasActivation(y: TF.Tensor, bias: TF.Tensor | undefined, act: TfActivation | undefined): TF.Tensor {
  const T = typeAttr('float32');
  let out = bias ? nativeOp('BiasAdd', [y, bias], [T, attr.string('data_format', 'NHWC')]) : y;
  if (act?.kind === 'relu') out = nativeOp('Relu', [out], [T]);
  else if (act?.kind === 'relu6') out = nativeOp('Relu6', [out], [T]);
  else if (act?.kind === 'leakyrelu') out = nativeOp('LeakyRelu', [out], [T, attr.float('alpha', act.alpha)]);
  return out;
}

/**
 * Adds compress's kernels and faster forms to the tensorflow backend (once; idempotent). Returns false,
 * changing nothing, for a tfjs-node release this module was not checked against.
 */
export function prepareTensorflow(tf: typeof TF, version: string | undefined, logger: Logger): boolean {
  if (active) return true;
  if (!version || !TFJS_NODE_VERSIONS.test(version)) {
    logger.debug(`tfjs-node ${version ?? '(unknown release)'} is not a release compress's native fast paths were checked against (4.22.x): using its own kernels only`);
    return false;
  }
  const backend = tf.findBackend('tensorflow') as unknown as NodeBackend | null;
  if (!backend || typeof backend.executeSingleOutput !== 'function' || typeof backend.binding?.executeOp !== 'function') return false;
  active = { tf, backend };

  const reshape = tf.getKernel('Reshape', 'tensorflow');
  tf.unregisterKernel('Reshape', 'tensorflow');
  tf.registerKernel({
    kernelName: 'Reshape',
    backendName: 'tensorflow',
    kernelFunc: (args) => {
      const x = args.inputs.x as TF.TensorInfo;
      if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') return reshape!.kernelFunc(args);
      const shape = (args.attrs as unknown as { shape: number[] }).shape;
      return nativeOp('Reshape', [x as TF.Tensor, int32Const(shape)], [typeAttr(x.dtype), typeAttr('int32', 'Tshape')]);
    },
  });

  const transpose = tf.getKernel('Transpose', 'tensorflow');
  tf.unregisterKernel('Transpose', 'tensorflow');
  tf.registerKernel({
    kernelName: 'Transpose',
    backendName: 'tensorflow',
    kernelFunc: (args) => {
      const x = args.inputs.x as TF.TensorInfo;
      if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') return transpose!.kernelFunc(args);
      const perm = (args.attrs as unknown as { perm: number[] }).perm;
      return nativeOp('Transpose', [x as TF.Tensor, int32Const(perm)], [typeAttr(x.dtype), typeAttr('int32', 'Tperm')]);
    },
  });

  if (!tf.getKernel('BitwiseAnd', 'tensorflow')) {
    tf.registerKernel({
      kernelName: 'BitwiseAnd',
      backendName: 'tensorflow',
      kernelFunc: ({ inputs }) => backend.executeSingleOutput('BitwiseAnd', [typeAttr(inputs.a!.dtype)], [inputs.a!, inputs.b!]),
    });
  }
  return true;
}
