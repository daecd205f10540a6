/**
 * Scan (ONNX): runs the body once per position of the scan inputs, threading N state values through
 * and collecting K per-step outputs. Opset 9+: inputs are N initial states then M scan inputs (M =
 * num_scan_inputs), each scanned along scan_input_axes (default 0) in scan_input_directions (1 =
 * backwards); scan outputs are stacked along scan_output_axes, reversed for direction 1. Opset 8 had a
 * leading batch axis on everything, scan axis 1, `directions`, and an optional first input
 * sequence_lens (steps past a batch entry's length leave zeros in its scan outputs).
 */
import { ModelError } from '../../core/errors.js';
import type { Graph } from '../../ir/graph.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { alias } from '../kernel.js';
import { filled, zeroOf } from '../util/host.js';
import { normAxes, readInts } from '../util/ints.js';
import { stackTensors, unstackTensor } from '../util/sequence.js';
import type { RTensor } from '../value.js';
import { emptyScanOutput } from './Loop.js';

/**
 * The scan loop over pre-split inputs (`steps[j][t]` is scan input j at step t, already in its
 * direction). Returns the final states (owned) and, per scan output, the per-step values in step order.
 */
function scanSteps(body: Graph, states: RTensor[], steps: RTensor[][], length: number, ctx: KernelContext): { states: RTensor[]; outputs: RTensor[][] } {
  const n = states.length;
  const k = body.outputs.length - n;
  if (k < 0 || body.inputs.length !== n + steps.length) {
    throw new ModelError(`${ctx.node.describe()}: the body takes ${body.inputs.length} inputs and returns ${body.outputs.length}, which does not fit ${n} states and ${steps.length} scan inputs`);
  }
  let current = states;
  let own = false;
  const outputs: RTensor[][] = Array.from({ length: k }, () => []);
  for (let t = 0; t < length; t++) {
    const outs = ctx.runSubgraph(body, [...current, ...steps.map((s) => s[t]!)]);
    if (own) for (const s of current) s.dispose();
    current = outs.slice(0, n);
    own = true;
    outs.slice(n).forEach((o, j) => outputs[j]!.push(o));
  }
  return { states: own ? current : current.map(alias), outputs };
}

function scan9(inputs: readonly (RTensor | null)[], ctx: KernelContext): RTensor[] {
  const body = ctx.node.attrGraph('body');
  if (!body) throw new ModelError(`${ctx.node.describe()} has no body`);
  const m = ctx.node.attrInt('num_scan_inputs');
  if (m === undefined || m < 1 || m > inputs.length) throw new ModelError(`${ctx.node.describe()}: num_scan_inputs must be in [1, ${inputs.length}]`);
  const all = inputs.map((t, i) => {
    if (!t) throw new ModelError(`${ctx.node.describe()}: input ${i} is missing`);
    return t;
  });
  const n = all.length - m;
  const states = all.slice(0, n);
  const scanIn = all.slice(n);
  const inAxes = (ctx.node.attrInts('scan_input_axes') ?? new Array<number>(m).fill(0)).map((a, j) => normAxes([a], scanIn[j]!.rank, ctx)[0]!);
  const inDirs = ctx.node.attrInts('scan_input_directions') ?? new Array<number>(m).fill(0);
  const length = scanIn[0]!.dims[inAxes[0]!]!;
  scanIn.forEach((x, j) => {
    if (x.dims[inAxes[j]!] !== length) throw new ModelError(`${ctx.node.describe()}: scan input ${j} has ${x.dims[inAxes[j]!]} steps, input 0 has ${length}`);
  });
  const steps = scanIn.map((x, j) => {
    const s = unstackTensor(x, inAxes[j]!);
    return inDirs[j] ? s.reverse() : s;
  });
  try {
    const r = scanSteps(body, states, steps, length, ctx);
    const k = r.outputs.length;
    const outAxes = ctx.node.attrInts('scan_output_axes') ?? new Array<number>(k).fill(0);
    const outDirs = ctx.node.attrInts('scan_output_directions') ?? new Array<number>(k).fill(0);
    const stacked = r.outputs.map((list, j) => {
      if (list.length === 0) return emptyScanOutput(body.outputs[states.length + j]);
      const ordered = outDirs[j] ? [...list].reverse() : list;
      const axis = normAxes([outAxes[j]!], list[0]!.rank + 1, ctx)[0]!;
      const out = stackTensors(ordered, axis);
      for (const t of list) t.dispose();
      return out;
    });
    return [...r.states, ...stacked];
  } finally {
    for (const s of steps) for (const t of s) t.dispose();
  }
}

function scan8(inputs: readonly (RTensor | null)[], ctx: KernelContext): RTensor[] {
  const body = ctx.node.attrGraph('body');
  if (!body) throw new ModelError(`${ctx.node.describe()} has no body`);
  const m = ctx.node.attrInt('num_scan_inputs');
  const rest = inputs.slice(1).map((t, i) => {
    if (!t) throw new ModelError(`${ctx.node.describe()}: input ${i + 1} is missing`);
    return t;
  });
  if (m === undefined || m < 1 || m > rest.length) throw new ModelError(`${ctx.node.describe()}: num_scan_inputs must be in [1, ${rest.length}]`);
  const n = rest.length - m;
  const dirs = ctx.node.attrInts('directions') ?? new Array<number>(m).fill(0);
  const batch = rest[0]!.dims[0]!;
  const maxLen = rest[n]!.dims[1]!;
  const lens = inputs[0] ? readInts(inputs[0]) : new Array<number>(batch).fill(maxLen);
  const perBatch = rest.map((x) => unstackTensor(x, 0));
  const finalStates: RTensor[][] = Array.from({ length: n }, () => []);
  const scanOuts: RTensor[][] = [];
  try {
    for (let b = 0; b < batch; b++) {
      const len = lens[b]!;
      const steps = perBatch.slice(n).map((slices, j) => {
        const s = unstackTensor(slices[b]!, 0).slice(0, len);
        return dirs[j] ? s.reverse() : s;
      });
      try {
        const r = scanSteps(body, perBatch.slice(0, n).map((s) => s[b]!), steps, len, ctx);
        r.states.forEach((s, i) => finalStates[i]!.push(s));
        r.outputs.forEach((list, j) => {
          // Steps past this entry's length are zeros, so every batch entry stacks to maxLen.
          const like = list[0];
          if (like) for (let t = len; t < maxLen; t++) list.push(filled(like.dataType, like.dims, zeroOf(like.dataType), !like.onDevice));
          scanOuts[j] ??= [];
          scanOuts[j]!.push(list.length > 0 ? stackTensors(list, 0) : emptyScanOutput(body.outputs[n + j]));
          for (const t of list) t.dispose();
        });
      } finally {
        for (const s of steps) for (const t of s) t.dispose();
      }
    }
    return [...finalStates.map((list) => stackTensors(list, 0)), ...scanOuts.map((list) => stackTensors(list, 0))];
  } finally {
    for (const list of [...finalStates, ...scanOuts, ...perBatch]) for (const t of list) t.dispose();
  }
}

export const Scan: OpKernel[] = [
  { domain: '', opType: 'Scan', since: 8, run: scan8 },
  { domain: '', opType: 'Scan', since: 9, run: scan9 },
];
