import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { f32, matchOrt, nnBackends, outs, runOursOn, seeded, values, type NodeSpec } from './nnHarness.js';
import { maxDiff, runOrt, singleNodeModel, type InputSpec } from './quantHarness.js';

/** Swaps the first two axes of a 3-D input (layout 1 <-> layout 0 for X and the states). */
function swap01(i: InputSpec): InputSpec {
  const [a, b, c] = i.dims as [number, number, number];
  const src = i.data as Float32Array;
  const out = new Float32Array(src.length);
  for (let x = 0; x < a; x++) for (let y = 0; y < b; y++) for (let z = 0; z < c; z++) out[(y * a + x) * c + z] = src[(x * b + y) * c + z]!;
  return { ...i, dims: [b, a, c], data: out };
}

/** Layout-0 Y [S, D, B, H] rearranged as layout-1 Y [B, S, D, H]. */
function yToLayout1(v: number[], s: number, d: number, b: number, h: number): number[] {
  const out = new Array<number>(v.length);
  for (let t = 0; t < s; t++) for (let k = 0; k < d; k++) for (let n = 0; n < b; n++) for (let j = 0; j < h; j++) out[((n * s + t) * d + k) * h + j] = v[((t * d + k) * b + n) * h + j]!;
  return out;
}

const SEQ = 5;
const BATCH = 3;
const IN = 4;
const H = 6;

interface Case {
  name: string;
  op: 'LSTM' | 'GRU' | 'RNN';
  dirs: 1 | 2;
  attrs?: Record<string, number | number[] | string | string[]>;
  lens?: number[];
  initial?: boolean;
  peepholes?: boolean;
  layout?: 1;
}

const cases: Case[] = [
  { name: 'forward, bias, constant weights', op: 'LSTM', dirs: 1 },
  { name: 'bidirectional, sequence_lens, initial states, peepholes', op: 'LSTM', dirs: 2, lens: [5, 2, 4], initial: true, peepholes: true },
  { name: 'reverse, clip, input_forget', op: 'LSTM', dirs: 1, attrs: { direction: 'reverse', clip: 0.7, input_forget: 1 } },
  { name: 'layout 1, bidirectional, sequence_lens', op: 'LSTM', dirs: 2, lens: [3, 5, 1], initial: true, layout: 1 },
  { name: 'other activations with alpha/beta', op: 'LSTM', dirs: 1, attrs: { activations: ['HardSigmoid', 'Tanh', 'Softsign'], activation_alpha: [0.3], activation_beta: [0.4] } },
  { name: 'linear_before_reset 0, bidirectional, sequence_lens', op: 'GRU', dirs: 2, lens: [4, 5, 2], initial: true },
  { name: 'linear_before_reset 1, bidirectional, sequence_lens', op: 'GRU', dirs: 2, lens: [1, 5, 3], initial: true, attrs: { linear_before_reset: 1 } },
  { name: 'linear_before_reset 1, reverse, layout 1, clip', op: 'GRU', dirs: 1, layout: 1, initial: true, attrs: { linear_before_reset: 1, direction: 'reverse', clip: 0.5 } },
  { name: 'bidirectional, sequence_lens, initial state', op: 'RNN', dirs: 2, lens: [5, 3, 4], initial: true },
  { name: 'Relu activation, layout 1', op: 'RNN', dirs: 1, layout: 1, attrs: { activations: ['Relu'] } },
];

const gatesOf = { LSTM: 4, GRU: 3, RNN: 1 };

for (const c of cases) {
  for (const backend of nnBackends) {
    test(`${c.op} ${c.name} on ${backend}: matches onnxruntime`, async () => {
      const r = seeded(c.op + c.name);
      const g = gatesOf[c.op];
      const d = c.dirs;
      const x = c.layout ? [BATCH, SEQ, IN] : [SEQ, BATCH, IN];
      const state = c.layout ? [BATCH, d, H] : [d, BATCH, H];
      const attrs: Record<string, number | number[] | string | string[]> = { hidden_size: H, ...c.attrs };
      if (d === 2) attrs.direction = 'bidirectional';
      if (c.layout) attrs.layout = 1;
      const inputs = [
        f32(r, 'x', x),
        f32(r, 'w', [d, g * H, IN], true),
        f32(r, 'r', [d, g * H, H], true),
        f32(r, 'b', [d, 2 * g * H], true),
        c.lens ? values('lens', DataType.INT32, [BATCH], Int32Array.from(c.lens)) : null,
        c.initial ? f32(r, 'h0', state) : null,
      ];
      if (c.op === 'LSTM') inputs.push(c.initial ? f32(r, 'c0', state) : null, c.peepholes ? f32(r, 'p', [d, 3 * H], true) : null);
      while (inputs[inputs.length - 1] === null) inputs.pop();
      const spec: NodeSpec = { opType: c.op, opset: c.layout ? 14 : 13, inputs, attrs: attrs as NodeSpec['attrs'], outputs: outs(c.op === 'LSTM' ? 3 : 2) };
      if (!c.layout) {
        await matchOrt(spec, backend, 1e-5);
        return;
      }
      // onnxruntime has no layout 1: compare with its layout-0 run on the same data, rearranged.
      const inputs0 = inputs.map((i, k) => (i && (k === 0 || k === 5 || k === 6) ? swap01(i) : i));
      const attrs0 = { ...attrs };
      delete attrs0.layout;
      const ref = await runOrt(singleNodeModel({ ...spec, opset: 13, inputs: inputs0, attrs: attrs0 as NodeSpec['attrs'] }), { ...spec, inputs: inputs0 });
      assert.ok(typeof ref !== 'string', String(ref));
      const ours = await runOursOn(spec, backend);
      const expectY = yToLayout1(ref.y0!.values, SEQ, d, BATCH, H);
      assert.ok(maxDiff(ours.y0!.values, expectY).diff <= 1e-5, 'Y differs');
      for (const o of spec.outputs.slice(1)) {
        const ref0 = ref[o.name]!.values;
        // final states [D, B, H] -> [B, D, H]
        const expect = ref0.map((_, idx) => {
          const n = Math.floor(idx / (d * H));
          const k = Math.floor(idx / H) % d;
          return ref0[(k * BATCH + n) * H + (idx % H)]!;
        });
        assert.deepEqual(ours[o.name]!.dims, [BATCH, d, H]);
        assert.ok(maxDiff(ours[o.name]!.values, expect).diff <= 1e-5, `${o.name} differs`);
      }
    });
  }
}
