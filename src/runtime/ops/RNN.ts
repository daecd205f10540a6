/**
 * RNN (ONNX): the plain (Elman) recurrent layer H' = f(Xt Wi^T + H Ri^T + Wbi + Rbi), f = Tanh by
 * default. Outputs Y, Y_h; directions, layouts and sequence_lens as in util/rnn.ts.
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { activations, clipped, type Activation, emit, hold, initialState, inputProjection, recurrentResults, recurrentSetup, rowSlice, stackOutputs, steps, weightT } from '../util/rnn.js';

export const RNN: OpKernel[] = [
  {
    domain: '',
    opType: 'RNN',
    since: 1,
    run: (inputs, ctx) => {
      const X = required(inputs, 0, ctx);
      const W = required(inputs, 1, ctx);
      const R = required(inputs, 2, ctx);
      const B = inputs[3] ?? null;
      const h0 = inputs[5] ?? null;
      return recurrentResults(
        ctx,
        X.dataType,
        () => {
          const s = recurrentSetup(inputs, ctx, 1);
          const H = s.hidden;
          if (R.dims[1] !== H || R.dims[2] !== H) throw new ModelError(`${ctx.node.describe()}: R [${R.dims.join(',')}] does not fit hidden size ${H}`);
          const acts = activations(ctx, 1, ['Tanh'], s.directions.length);
          const ys: tf.Tensor[][] = [];
          const hs: tf.Tensor[] = [];
          s.directions.forEach((dir, d) => {
            const [f] = acts[d] as [Activation];
            const bias = B ? tf.add(rowSlice(B, ctx.node.input(3), d, 0, H), rowSlice(B, ctx.node.input(3), d, H, H)) : null;
            const xs = inputProjection(s, weightT(W, ctx.node.input(1), d), bias as tf.Tensor1D | null);
            const rT = weightT(R, ctx.node.input(2), d);
            let hPrev: tf.Tensor = initialState(h0, d, s);
            const rows: tf.Tensor[] = new Array<tf.Tensor>(s.seq);
            for (const t of steps(s, dir)) {
              const hNew = f(clipped(tf.add(xs[t]!, tf.matMul(hPrev as tf.Tensor2D, rT)), s));
              const mask = s.masks[t] ?? null;
              rows[t] = emit(hNew, mask);
              hPrev = hold(hNew, hPrev, mask);
            }
            ys.push(rows);
            hs.push(hPrev);
          });
          const { y, states } = stackOutputs(s, ys, [hs]);
          return [y, ...states];
        },
        inputs,
      );
    },
  },
];
