/**
 * If (ONNX): runs `then_branch` or `else_branch` by a boolean scalar condition and returns the branch's
 * outputs. Branches read outer-scope values directly (the executor resolves them).
 */
import { ModelError } from '../../core/errors.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';

export const If: OpKernel[] = [
  {
    domain: '',
    opType: 'If',
    since: 1,
    run: (inputs, ctx) => {
      const cond = required(inputs, 0, ctx);
      if (cond.size !== 1) throw new ModelError(`${ctx.node.describe()}: the condition must be a single value, got shape [${cond.dims.join(',')}]`);
      const branchName = cond.numbers()[0] ? 'then_branch' : 'else_branch';
      const branch = ctx.node.attrGraph(branchName);
      if (!branch) throw new ModelError(`${ctx.node.describe()} has no ${branchName}`);
      const outs = ctx.runSubgraph(branch, []);
      if (outs.length < ctx.node.outputs.length) {
        for (const t of outs) t.dispose();
        throw new ModelError(`${ctx.node.describe()}: ${branchName} returns ${outs.length} values, the node has ${ctx.node.outputs.length} outputs`);
      }
      // Any value a branch returns beyond the node's outputs has no consumer.
      for (const t of outs.slice(ctx.node.outputs.length)) t.dispose();
      return outs.slice(0, ctx.node.outputs.length);
    },
  },
];
