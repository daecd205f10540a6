/**
 * Epilogues: at inference, a Conv or a MatMul with constant weights, followed by affine ops on constants
 * (Mul, Div, Add, Sub: per output channel or scalar; after a Conv also an inference-mode
 * BatchNormalization), an activation and affine ops again, runs as one fused product: the affine steps
 * before the activation fold into the weights and bias once per session (util/epilogue.ts); Relu,
 * LeakyRelu and Clip to [0, 6] or [0, inf) become the product's output clamp (on wasm, XNNPACK's output
 * min/max); HardSwish, and its exported form y * Clip(y + 3, 0, 6), run as y * relu6(y + 3); the steps
 * after the activation as one multiply and one add. Every unfused op is one more pass over the activation
 * (~0.15 ms per 250k floats on wasm): ppocr-rec-v4 follows each of its 28 MobileOne convs by Mul, Add,
 * Add, Clip, Mul, Div, Mul, Add, the CNN fixture its Convs by Relus, the LM fixture each MatMul by its
 * bias Add. onnxruntime makes similar fusions (Conv+BN, Conv+Mul, Conv+Add, Conv+Activation,
 * MatMul+Add) when it loads a model.
 *
 * `planFusions` finds each product's longest candidate chain once per session, from the graph's
 * structure alone. Whether (and how much of) a chain applies is decided per run by the session
 * (`Session.resolveFusion`): only without training, for 2-D convs and products with a 2-D weight, with
 * the operands' values at hand (per output channel or scalar, Clip bounds of a fused activation), and
 * only where no one else can see an intermediate value (read only inside the chain, not requested, not
 * observed).
 */
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { tf } from './backend.js';
import type { RTensor } from './value.js';

/** An affine step: y = x * k, x / k, x + k, x - k, or an inference BatchNormalization. */
export type StepKind = 'mul' | 'div' | 'add' | 'sub' | 'batchnorm';

/**
 * An activation of a fused product: one tfjs fuses into it (relu, relu6, leakyrelu), or hardswish in
 * the form exporters write it, y * Clip(y + shift, 0, 6) (then a division by 6, a post step), computed
 * as y * relu6(y + shift).
 */
export type FusedActivation = TfActivation | { kind: 'hardswish'; shift: number };

/** The activations tfjs's fused conv and matmul take. */
export type TfActivation = { kind: 'relu' } | { kind: 'relu6' } | { kind: 'leakyrelu'; alpha: number };

/** One element of a candidate chain: its nodes (the last one's output is the link's result), and what it contributes. */
export interface ChainLink {
  /** The link's nodes; one, or the three of a decomposed hardswish (Add, Clip, Mul). */
  nodes: Node[];
  /** An affine step with its constant operands (BatchNormalization: scale, B, mean, var), or an activation. */
  step?: { kind: StepKind; operands: Value[]; epsilon?: number };
  activation?: 'Relu' | 'Clip' | 'LeakyRelu' | 'HardSwish' | 'ClipHardSwish';
}

/** A Conv or MatMul and the longest chain that might fuse into it. */
export interface Fusion {
  /** Unique per plan: names the folded weights and bias in the constant cache. */
  id: number;
  /** The Conv or MatMul. */
  head: Node;
  chain: ChainLink[];
}

/** An affine step with its operands resolved. */
export interface ResolvedStep {
  kind: StepKind;
  operands: RTensor[];
  epsilon?: number;
}

/**
 * What a fused kernel receives (KernelContext.epilogue): act(product * s + t) * s2 + t2, where `steps`
 * fold into s, t (hence into the weights and bias) and `post`, the affine steps after the activation,
 * into s2, t2 (one multiply and one add on the output).
 */
export interface Epilogue {
  steps: ResolvedStep[];
  activation?: FusedActivation;
  post: ResolvedStep[];
  /**
   * The tensor `make()` computes (call inside a tidy), kept by the session under `key` for this
   * epilogue (folded weights, bias, post-activation vectors) until it drops its constants.
   */
  cache(key: string, make: () => tf.Tensor): tf.Tensor;
}

let nextId = 0;

/** The op types whose second (or, for Mul and Add, either) input may be a folded constant. */
const affine: Record<string, StepKind> = { Mul: 'mul', Div: 'div', Add: 'add', Sub: 'sub' };

/**
 * Candidate chains of the main graph: for each Conv or MatMul with constant weights (and bias), the
 * nodes after it that each consume the previous one's only output, as long as they are affine steps on
 * constants, then at most one activation, then affine steps again. `isConstant` says which values are
 * constants that are not trained; `builtin` which nodes run our own kernel (not a model-local function
 * of the same name).
 */
export function planFusions(graph: Graph, isConstant: (v: Value) => boolean, builtin: (n: Node) => boolean): Map<Node, Fusion> {
  const out = new Map<Node, Fusion>();
  const usable = (n: Node | undefined): n is Node => !!n && n.domain === '' && n.graph === graph && n.outputs.length === 1 && builtin(n);
  for (const head of graph.nodes) {
    if ((head.opType !== 'Conv' && head.opType !== 'MatMul') || !usable(head)) continue;
    const w = head.input(1);
    const b = head.opType === 'Conv' ? head.input(2) : null;
    if (!w || !isConstant(w) || (b && !isConstant(b))) continue;
    const chain: ChainLink[] = [];
    let activated = false;
    let v = head.output(0);
    while (v && !v.isGraphOutput) {
      let link: ChainLink | undefined = activated ? undefined : hardSwishLink(v, isConstant, usable);
      if (!link) {
        const next = v.uses.length === 1 ? v.uses[0]!.node : undefined;
        link = usable(next) ? linkOf(next, v, isConstant) : undefined;
      }
      if (!link || (activated && link.activation) || (link.step?.kind === 'batchnorm' && (head.opType !== 'Conv' || activated))) break;
      chain.push(link);
      activated ||= link.activation !== undefined;
      v = link.nodes[link.nodes.length - 1]!.output(0);
    }
    if (chain.length > 0) out.set(head, { id: nextId++, head, chain });
  }
  return out;
}

/**
 * The decomposed hardswish reading `v` twice, v * Clip(v + k, lo, hi) (Add, Clip, Mul in either operand
 * order, constants k and bounds; their values are checked per run), if that is what `v`'s two uses are.
 */
function hardSwishLink(v: Value, isConstant: (v: Value) => boolean, usable: (n: Node | undefined) => n is Node): ChainLink | undefined {
  if (v.uses.length !== 2) return undefined;
  const add = v.uses.map((u) => u.node).find((n) => n.opType === 'Add');
  if (!usable(add) || add.attr('broadcast') || add.inputs.length !== 2) return undefined;
  const k = add.input(0) === v ? add.input(1) : add.input(0);
  if (!k || k === v || !isConstant(k)) return undefined;
  const s = add.output(0)!;
  const clip = s.uses.length === 1 && !s.isGraphOutput ? s.uses[0]!.node : undefined;
  if (!usable(clip) || clip.opType !== 'Clip' || clip.input(0) !== s || !clip.inputs.slice(1).every((p) => !p || isConstant(p))) return undefined;
  const c = clip.output(0)!;
  const mul = c.uses.length === 1 && !c.isGraphOutput ? c.uses[0]!.node : undefined;
  if (!usable(mul) || mul.opType !== 'Mul' || mul.attr('broadcast') || mul.inputs.length !== 2) return undefined;
  const ins = mul.inputs;
  if (!((ins[0] === v && ins[1] === c) || (ins[0] === c && ins[1] === v))) return undefined;
  if (!v.uses.every((u) => u.node === add || u.node === mul)) return undefined;
  return { nodes: [add, clip, mul], activation: 'ClipHardSwish' };
}

function linkOf(node: Node, v: Value, isConstant: (v: Value) => boolean): ChainLink | undefined {
  const ins = node.inputs;
  const kind = affine[node.opType];
  if (kind) {
    if (ins.length !== 2) return undefined;
    // Legacy broadcasting (opset < 7, `broadcast`/`axis` attributes) aligns differently: left alone.
    if (node.attr('broadcast') || node.attr('axis')) return undefined;
    const other = ins[0] === v ? ins[1] : ins[1] === v && (kind === 'mul' || kind === 'add') ? ins[0] : undefined;
    if (!other || other === v || !isConstant(other)) return undefined;
    return { nodes: [node], step: { kind, operands: [other] } };
  }
  if (node.opType === 'BatchNormalization') {
    if (ins[0] !== v || ins.length !== 5) return undefined;
    if (node.attrInt('training_mode', 0) !== 0) return undefined;
    const params = ins.slice(1) as (Value | null)[];
    if (!params.every((p): p is Value => p !== null && isConstant(p))) return undefined;
    return { nodes: [node], step: { kind: 'batchnorm', operands: params, epsilon: node.attrFloat('epsilon', 1e-5) } };
  }
  if (node.opType === 'Relu' || node.opType === 'LeakyRelu' || node.opType === 'HardSwish') return ins[0] === v ? { nodes: [node], activation: node.opType } : undefined;
  if (node.opType === 'Clip') {
    if (ins[0] !== v || !ins.slice(1).every((p) => !p || isConstant(p))) return undefined;
    return { nodes: [node], activation: 'Clip' };
  }
  return undefined;
}
