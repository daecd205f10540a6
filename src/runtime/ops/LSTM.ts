/**
 * LSTM (ONNX; Hochreiter & Schmidhuber 1997, with the peephole connections of Gers & Schmidhuber 2000):
 * gates in W/R/B order i, o, f, c; peepholes P in order i, o, f:
 *   i = f(Xt Wi^T + H Ri^T + Pi * C + Wbi + Rbi)      f = f(... Pf * C ...)   (1 - i with input_forget)
 *   c~ = g(Xt Wc^T + H Rc^T + Wbc + Rbc)              C' = f * C + i * c~
 *   o = f(Xt Wo^T + H Ro^T + Po * C' + Wbo + Rbo)     H' = o * h(C')
 * Activations f, g, h default to Sigmoid, Tanh, Tanh; `clip` bounds the gate pre-activations.
 * Outputs Y, Y_h, Y_c; directions, layouts and sequence_lens as in util/rnn.ts.
 */
import { ModelError } from '../../core/errors.js';
import { tf } from '../backend.js';
import type { KernelContext, OpKernel } from '../kernel.js';
import { required } from '../kernel.js';
import { activations, clipped, type Activation, emit, hold, initialState, inputProjection, recurrentResults, recurrentSetup, rowSlice, stackOutputs, steps, weightT } from '../util/rnn.js';
import type { RTensor } from '../value.js';

function run(inputs: readonly (RTensor | null)[], ctx: KernelContext): (RTensor | null)[] {
  const X = required(inputs, 0, ctx);
  const W = required(inputs, 1, ctx);
  const R = required(inputs, 2, ctx);
  const [B, , h0, c0, P] = [inputs[3] ?? null, inputs[4] ?? null, inputs[5] ?? null, inputs[6] ?? null, inputs[7] ?? null];
  const inputForget = ctx.node.attrInt('input_forget', 0) !== 0;
  return recurrentResults(
    ctx,
    X.dataType,
    () => {
      const s = recurrentSetup(inputs, ctx, 4);
      const H = s.hidden;
      if (R.dims[1] !== 4 * H || R.dims[2] !== H) throw new ModelError(`${ctx.node.describe()}: R [${R.dims.join(',')}] does not fit hidden size ${H}`);
      const acts = activations(ctx, 3, ['Sigmoid', 'Tanh', 'Tanh'], s.directions.length);
      const ys: tf.Tensor[][] = [];
      const hs: tf.Tensor[] = [];
      const cs: tf.Tensor[] = [];
      s.directions.forEach((dir, d) => {
        const [f, g, h] = acts[d] as [Activation, Activation, Activation];
        const bias = B ? tf.add(rowSlice(B, ctx.node.input(3), d, 0, 4 * H), rowSlice(B, ctx.node.input(3), d, 4 * H, 4 * H)) : null;
        const xs = inputProjection(s, weightT(W, ctx.node.input(1), d), bias as tf.Tensor1D | null);
        const rT = weightT(R, ctx.node.input(2), d);
        const [pi, po, pf] = P ? [rowSlice(P, ctx.node.input(7), d, 0, H), rowSlice(P, ctx.node.input(7), d, H, H), rowSlice(P, ctx.node.input(7), d, 2 * H, H)] : [null, null, null];
        let hPrev: tf.Tensor = initialState(h0, d, s);
        let cPrev: tf.Tensor = initialState(c0, d, s);
        const rows: tf.Tensor[] = new Array<tf.Tensor>(s.seq);
        for (const t of steps(s, dir)) {
          const gates = tf.add(xs[t]!, tf.matMul(hPrev as tf.Tensor2D, rT));
          const [gi, go, gf, gc] = tf.split(gates, 4, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
          const i = f(clipped(pi ? tf.add(gi, tf.mul(pi, cPrev)) : gi, s));
          const fg = inputForget ? tf.sub(1, i) : f(clipped(pf ? tf.add(gf, tf.mul(pf, cPrev)) : gf, s));
          const c = tf.add(tf.mul(fg, cPrev), tf.mul(i, g(clipped(gc, s))));
          const o = f(clipped(po ? tf.add(go, tf.mul(po, c)) : go, s));
          const hNew = tf.mul(o, h(c));
          const mask = s.masks[t] ?? null;
          rows[t] = emit(hNew, mask);
          hPrev = hold(hNew, hPrev, mask);
          cPrev = hold(c, cPrev, mask);
        }
        ys.push(rows);
        hs.push(hPrev);
        cs.push(cPrev);
      });
      const { y, states } = stackOutputs(s, ys, [hs, cs]);
      return [y, ...states];
    },
    inputs,
  );
}

/** Versions 1 (and 7: no output_sequence attribute), 14 (layout) share one kernel. */
export const LSTM: OpKernel[] = [{ domain: '', opType: 'LSTM', since: 1, run }];
