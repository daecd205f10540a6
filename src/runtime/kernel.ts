/**
 * The kernel interface: one ONNX op, at one since-version, as a synchronous function of RTensors.
 * Kernels are synchronous so a whole forward pass can run inside tf.variableGrads (training mode).
 *
 * Ownership: a kernel returns new RTensors and never one of its inputs; to pass data through unchanged
 * use `alias(x)` (a tfjs clone shares memory). The executor disposes what is no longer needed.
 */
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import { ModelError } from '../core/errors.js';
import type { Epilogue } from './fusion.js';
import { tf } from './backend.js';
import { RTensor } from './value.js';

export interface KernelContext {
  readonly node: Node;
  /** The model's opset for the node's domain. */
  readonly opset: number;
  /** True inside a training forward pass (Dropout stays inference-like; nothing is disposed early). */
  readonly training: boolean;
  /**
   * For a Conv or MatMul at inference: the ops after it that the session fused into it
   * (runtime/fusion.ts); the kernel must then return their result instead of its own.
   */
  readonly epilogue?: Epilogue;
  /**
   * The session streams its weights (SessionOptions.streamWeights): a kernel that meets a big constant
   * operand still on the host should use it piecewise rather than convert it whole (MatMul does).
   */
  readonly streaming?: boolean;
  /**
   * Runs a subgraph (If/Loop/Scan body) with its formal inputs bound to `inputs`; names from outer
   * scopes resolve in the caller's environment. Returns the body's outputs, owned by the caller.
   */
  runSubgraph(graph: Graph, inputs: RTensor[]): RTensor[];
}

export type Kernel = (inputs: readonly (RTensor | null)[], ctx: KernelContext) => (RTensor | null)[];

/** One registry entry: (domain, op type, since-version) -> kernel. */
export interface OpKernel {
  /** '' for ai.onnx, 'com.microsoft', ... */
  domain: string;
  opType: string;
  since: number;
  run: Kernel;
}

/**
 * A new RTensor sharing `x`'s data (a tfjs clone shares memory), for ops that pass data through; a
 * channels-last value stays channels-last.
 */
export function alias(x: RTensor): RTensor {
  if (x.channelsLast) return RTensor.fromNhwc(tf.clone(x.nhwc()), x.dataType);
  if (x.onDevice) return RTensor.fromTf(tf.clone(x.tf), x.dataType);
  return RTensor.fromHost(x.dataType, x.dims, x.host());
}

/** Input `i`, which the op requires. */
export function required(inputs: readonly (RTensor | null)[], i: number, ctx: KernelContext): RTensor {
  const x = inputs[i];
  if (!x) throw new ModelError(`${ctx.node.describe()} needs input ${i}`);
  return x;
}

/** Normalises a possibly negative axis against a rank, with a clear error when out of range. */
export function normAxis(axis: number, rank: number, ctx: KernelContext): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= Math.max(rank, 1)) throw new ModelError(`${ctx.node.describe()}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}
