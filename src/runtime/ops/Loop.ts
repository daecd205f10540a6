/**
 * Loop (ONNX): a for/while loop. Inputs: an optional max trip count M (int64), an optional condition,
 * and N loop-carried initial values. The body takes (iteration number, condition, N carried) and returns
 * (condition, N carried, K scan outputs); the node returns the N final carried values and the K scan
 * outputs stacked along a new first axis. As in onnxruntime, the loop stops when the trip count is
 * reached or the body's condition output is false.
 */
import { DataType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import type { Value } from '../../ir/value.js';
import type { OpKernel } from '../kernel.js';
import { alias } from '../kernel.js';
import { filled } from '../util/host.js';
import { int64Tensor } from '../util/ints.js';
import { stackTensors } from '../util/sequence.js';
import { RTensor } from '../value.js';

/** An empty scan output for a loop that ran zero times: [0, ...the body output's static dims]. */
export function emptyScanOutput(v: Value | undefined): RTensor {
  const shape = v?.shape;
  const dims = shape && shape.every((d): d is number => typeof d === 'number') ? [0, ...shape] : [0];
  return filled(v?.elemType ?? DataType.FLOAT, dims, 0, true);
}

export const Loop: OpKernel[] = [
  {
    domain: '',
    opType: 'Loop',
    since: 1,
    run: (inputs, ctx) => {
      const body = ctx.node.attrGraph('body');
      if (!body) throw new ModelError(`${ctx.node.describe()} has no body`);
      const initial = inputs.slice(2);
      const n = initial.length;
      const k = body.outputs.length - 1 - n;
      if (body.inputs.length !== n + 2 || k < 0) {
        throw new ModelError(`${ctx.node.describe()}: the body takes ${body.inputs.length} inputs and returns ${body.outputs.length} values, which does not fit ${n} loop-carried values`);
      }
      if (initial.some((t) => t === null)) throw new ModelError(`${ctx.node.describe()}: loop-carried initial values must all be given`);
      const maxTrip = inputs[0] ? inputs[0].numbers()[0]! : Infinity;
      let cond = inputs[1] ? inputs[1].numbers()[0] !== 0 : true;
      if (!inputs[0] && !inputs[1]) throw new ModelError(`${ctx.node.describe()} has neither a trip count nor a condition: it would never end`);
      let carried = initial as RTensor[];
      let ownCarried = false;
      const scans: RTensor[][] = Array.from({ length: k }, () => []);
      try {
        for (let i = 0; i < maxTrip && cond; i++) {
          const iter = int64Tensor([i], []);
          const condIn = RTensor.fromHost(DataType.BOOL, [], Uint8Array.of(1));
          const outs = ctx.runSubgraph(body, [iter, condIn, ...carried]);
          if (ownCarried) for (const t of carried) t.dispose();
          carried = outs.slice(1, 1 + n);
          ownCarried = true;
          cond = outs[0]!.numbers()[0] !== 0;
          outs[0]!.dispose();
          outs.slice(1 + n).forEach((t, j) => scans[j]!.push(t));
        }
        const finals = ownCarried ? carried : carried.map(alias);
        const stacked = scans.map((list, j) => (list.length === 0 ? emptyScanOutput(body.outputs[1 + n + j]) : stackTensors(list, 0)));
        return [...finals, ...stacked];
      } finally {
        for (const list of scans) for (const t of list) t.dispose();
      }
    },
  },
];
