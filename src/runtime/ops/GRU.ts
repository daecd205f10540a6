/**
 * GRU (ONNX; Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder", 2014): gates in
 * W/R/B order z, r, h:
 *   z = f(Xt Wz^T + H Rz^T + Wbz + Rbz)        r = f(Xt Wr^T + H Rr^T + Wbr + Rbr)
 *   h~ = g(Xt Wh^T + (r * H) Rh^T + Rbh + Wbh)          (linear_before_reset = 0)
 *   h~ = g(Xt Wh^T + r * (H Rh^T + Rbh) + Wbh)          (linear_before_reset = 1)
 *   H' = (1 - z) * h~ + z * H
 * Activations f, g default to Sigmoid, Tanh. Outputs Y, Y_h; directions, layouts and sequence_lens as
 * in util/rnn.ts. Without the reset applied after the product, Rbh folds into the input projection.
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { activations, clipped, type Activation, emit, hold, initialState, inputProjection, recurrentResults, recurrentSetup, rowSlice, stackOutputs, steps, weightT } from '../util/rnn.js';

export const GRU: OpKernel[] = [
  {
    domain: '',
    opType: 'GRU',
    since: 1,
    run: (inputs, ctx) => {
      const X = required(inputs, 0, ctx);
      const W = required(inputs, 1, ctx);
      const R = required(inputs, 2, ctx);
      const B = inputs[3] ?? null;
      const h0 = inputs[5] ?? null;
      const lbr = ctx.node.attrInt('linear_before_reset', 0) !== 0;
      return recurrentResults(
        ctx,
        X.dataType,
        () => {
          const s = recurrentSetup(inputs, ctx, 3);
          const H = s.hidden;
          if (R.dims[1] !== 3 * H || R.dims[2] !== H) throw new ModelError(`${ctx.node.describe()}: R [${R.dims.join(',')}] does not fit hidden size ${H}`);
          const acts = activations(ctx, 2, ['Sigmoid', 'Tanh'], s.directions.length);
          const ys: tf.Tensor[][] = [];
          const hs: tf.Tensor[] = [];
          s.directions.forEach((dir, d) => {
            const [f, g] = acts[d] as [Activation, Activation];
            // Input-side bias: Wb for all gates, Rb for z and r, and Rbh too unless it is reset-scaled.
            let bias: tf.Tensor | null = null;
            if (B) {
              const rb = lbr ? tf.concat([rowSlice(B, ctx.node.input(3), d, 3 * H, 2 * H), tf.zeros([H])]) : rowSlice(B, ctx.node.input(3), d, 3 * H, 3 * H);
              bias = tf.add(rowSlice(B, ctx.node.input(3), d, 0, 3 * H), rb);
            }
            const rbh = B && lbr ? rowSlice(B, ctx.node.input(3), d, 5 * H, H) : null;
            const xs = inputProjection(s, weightT(W, ctx.node.input(1), d), bias as tf.Tensor1D | null);
            const rAll = lbr ? weightT(R, ctx.node.input(2), d) : null;
            const rZR = lbr ? null : weightT(R, ctx.node.input(2), d, 0, 2 * H);
            const rH = lbr ? null : weightT(R, ctx.node.input(2), d, 2 * H, H);
            let hPrev: tf.Tensor = initialState(h0, d, s);
            const rows: tf.Tensor[] = new Array<tf.Tensor>(s.seq);
            for (const t of steps(s, dir)) {
              const [xz, xr, xh] = tf.split(xs[t]!, 3, 1) as [tf.Tensor, tf.Tensor, tf.Tensor];
              let hNew: tf.Tensor;
              if (rAll) {
                const [hz, hr, hh] = tf.split(tf.matMul(hPrev as tf.Tensor2D, rAll), 3, 1) as [tf.Tensor, tf.Tensor, tf.Tensor];
                const z = f(clipped(tf.add(xz, hz), s));
                const r = f(clipped(tf.add(xr, hr), s));
                const cand = g(clipped(tf.add(xh, tf.mul(r, rbh ? tf.add(hh, rbh) : hh)), s));
                hNew = tf.add(cand, tf.mul(z, tf.sub(hPrev, cand)));
              } else {
                const [hz, hr] = tf.split(tf.matMul(hPrev as tf.Tensor2D, rZR!), 2, 1) as [tf.Tensor, tf.Tensor];
                const z = f(clipped(tf.add(xz, hz), s));
                const r = f(clipped(tf.add(xr, hr), s));
                const cand = g(clipped(tf.add(xh, tf.matMul(tf.mul(r, hPrev) as tf.Tensor2D, rH!)), s));
                hNew = tf.add(cand, tf.mul(z, tf.sub(hPrev, cand)));
              }
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
