import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/dtype.js';
import { Graph, Model, Tensor } from '../../../src/ir/index.js';
import { tf } from '../../../src/runtime/backend.js';
import { Session } from '../../../src/runtime/session.js';
import { RTensor } from '../../../src/runtime/value.js';
import { assertClose, assertExact, backends, device, host, run1, useBackend } from './opHarness.js';

const { INT64, INT32, INT8, UINT8, FLOAT, FLOAT16, BOOL, STRING } = DataType;
const M64 = 2n ** 64n;
const wrap64 = (v: bigint) => BigInt.asIntN(64, v);

for (const b of backends) {
  test(`int64 arithmetic on host tensors is exact beyond 2^53 and stays on the host (${b})`, async () => {
    await useBackend(b);
    const big = 2n ** 60n + 12345n;
    const a = host(INT64, [3], [big, -7n, 9007199254740993n]);
    const c = host(INT64, [3], [3n, 2n, 1n]);
    const add = run1('Add', 14, [a, c]);
    assertExact(add, INT64, [3], [big + 3n, -5n, 9007199254740994n]);
    assert.equal(add.onDevice, false);
    assertExact(run1('Mul', 14, [a, c]), INT64, [3], [wrap64(big * 3n), -14n, 9007199254740993n]);
    assertExact(run1('Sub', 14, [a, c]), INT64, [3], [big - 3n, -9n, 9007199254740992n]);
    // Integer Div truncates toward zero (C++ / onnxruntime), not floor: -7 / 2 = -3.
    assertExact(run1('Div', 14, [a, c]), INT64, [3], [big / 3n, -3n, 9007199254740993n]);
    // One input on tfjs, the other holding values beyond int32: computed on the host, not refused.
    const mixed = run1('Add', 14, [device(INT64, [2], [1n, 2n]), host(INT64, [2], [2n ** 40n, 3n])]);
    assertExact(mixed, INT64, [2], [2n ** 40n + 1n, 5n]);
    assertExact(run1('Where', 16, [host(BOOL, [2], [1, 0]), device(INT64, [2], [1n, 2n]), host(INT64, [], [2n ** 40n])]), INT64, [2], [1n, 2n ** 40n]);
    // Broadcast a scalar: [2^62, 5] * 4 wraps modulo 2^64 like int64_t arithmetic.
    const wrapped = run1('Mul', 14, [host(INT64, [2], [2n ** 62n, 5n]), host(INT64, [], [4n])]);
    assertExact(wrapped, INT64, [2], [wrap64((2n ** 62n * 4n) % M64), 20n]);
    assertExact(run1('Neg', 13, [a]), INT64, [3], [-big, 7n, -9007199254740993n]);
    assertExact(run1('Abs', 13, [a]), INT64, [3], [big, 7n, 9007199254740993n]);
    assertExact(run1('Sign', 13, [a]), INT64, [3], [1n, -1n, 1n]);
  });

  test(`a shape subgraph (int64 Mul -> Div -> Sub -> Equal -> Where) runs exactly in a Session (${b})`, async () => {
    const g = new Graph('g');
    const shape = g.addInput('shape', { kind: 'tensor', elemType: INT64, shape: [4] });
    const k = g.addInitializer('k', Tensor.int64([], [3n]));
    const two = g.addInitializer('two', Tensor.int64([], [-2n]));
    const mul = g.createNode({ opType: 'Mul', inputs: [shape, k], outputs: ['m'] });
    const div = g.createNode({ opType: 'Div', inputs: [mul.output(0), two], outputs: ['d'] });
    const sub = g.createNode({ opType: 'Sub', inputs: [div.output(0), shape], outputs: ['s'] });
    const eq = g.createNode({ opType: 'Equal', inputs: [shape, k], outputs: ['e'] });
    const wh = g.createNode({ opType: 'Where', inputs: [eq.output(0), shape, sub.output(0)], outputs: ['y'] });
    g.outputs.push(wh.output(0)!);
    const s = await Session.create(new Model(g, 8, [{ domain: '', version: 17 }]), { backend: b });
    const big = 2n ** 55n + 1n;
    const out = s.runSync({ shape: host(INT64, [4], [big, 3n, -5n, 7n]) });
    const y = out.get('y')!;
    // big*3/-2 - big = -(3*big)/2 truncated - big; -5*3/-2 = 7 (trunc of 7.5) - -5 = 12; 7*3/-2 = -10 - 7 = -17.
    assertExact(y, INT64, [4], [(big * 3n) / -2n - big, 3n, 12n, -17n]);
    y.dispose();
  });

  test(`int32 on tfjs: Div truncates exactly, Mod follows fmod, Neg/Abs exact, 8-bit results wrap (${b})`, async () => {
    await useBackend(b);
    const a = device(INT32, [6], [-7, 7, -7, 7, -8, 2147483647]);
    const d = device(INT32, [6], [2, -2, -2, 2, 3, 1]);
    // Integer Div / Mod read tfjs int32 back and divide on the host (tfjs-wasm divides through float32).
    const q = run1('Div', 14, [a, d]);
    assert.equal(q.onDevice, false);
    assertExact(q, INT32, [6], [-3, -3, 3, 3, -2, 2147483647]);
    assertExact(run1('Mod', 13, [a, d]), INT32, [6], [1, -1, -1, 1, 1, 0]);
    assertExact(run1('Mod', 13, [a, d], { fmod: 1 }), INT32, [6], [-1, 1, -1, 1, -2, 0]);
    // Same answers on the host path.
    const ah = host(INT32, [6], [-7, 7, -7, 7, -8, 2147483647]);
    const dh = host(INT32, [6], [2, -2, -2, 2, 3, 1]);
    assertExact(run1('Div', 14, [ah, dh]), INT32, [6], [-3, -3, 3, 3, -2, 2147483647]);
    assertExact(run1('Mod', 13, [ah, dh]), INT32, [6], [1, -1, -1, 1, 1, 0]);
    assertExact(run1('Mod', 13, [ah, dh], { fmod: 1 }), INT32, [6], [-1, 1, -1, 1, -2, 0]);
    // uint8 200 + 100 = 44 and int8 100 * 3 = 44, -128 * -1 = -128, on both paths (onnxruntime gives the same).
    for (const place of [host, device]) {
      assertExact(run1('Add', 14, [place(UINT8, [2], [200, 255]), place(UINT8, [2], [100, 1])]), UINT8, [2], [44, 0]);
      assertExact(run1('Mul', 14, [place(INT8, [2], [100, -128]), place(INT8, [2], [3, -1])]), INT8, [2], [44, -128]);
      assertExact(run1('Neg', 13, [place(INT8, [2], [-128, 5])]), INT8, [2], [-128, -5]);
    }
    // Past 2^24 tfjs's own int32 Neg / Abs lose the last bit; ours stay exact and on tfjs.
    const n = run1('Neg', 13, [device(INT32, [2], [16777217, -2147483647])]);
    assert.equal(n.onDevice, true);
    assertExact(n, INT32, [2], [-16777217, 2147483647]);
    assertExact(run1('Abs', 13, [device(INT32, [2], [-16777217, 5])]), INT32, [2], [16777217, 5]);
    assertClose(run1('Sign', 13, [device(FLOAT, [4], [NaN, -0.5, 0, 3])]), FLOAT, [4], [NaN, -1, 0, 1]);
    // int32 multiplication keeps the low 32 bits (a double product would round).
    assertExact(run1('Mul', 14, [host(INT32, [1], [196608]), host(INT32, [1], [327687])]), INT32, [1], [1376256]);
  });

  test(`integer division by zero is a numerics error naming the node (${b})`, async () => {
    await useBackend(b);
    assert.throws(() => run1('Div', 14, [host(INT64, [1], [1n]), host(INT64, [1], [0n])]), (e: Error & { exitCode?: number }) => e.exitCode === 1 && /test_Div/.test(e.message));
  });

  test(`Pow with integer bases follows onnxruntime; float bases take integer exponents (${b})`, async () => {
    await useBackend(b);
    // int32: double pow cast back, INT32_MIN beyond range (onnxruntime on x86), 2^-1 = 0.
    const i32 = run1('Pow', 15, [host(INT32, [5], [2, -3, 2, -1, 46341]), host(INT32, [5], [10, 3, -1, -5, 2])]);
    assertExact(i32, INT32, [5], [1024, -27, 0, -1, -2147483648]);
    assertExact(run1('Pow', 15, [host(INT32, [2], [9, 2]), host(FLOAT, [2], [0.5, 31.5])]), INT32, [2], [3, -2147483648]);
    // int64: exact where a double would not be (3^39), INT64_MIN on overflow.
    const i64 = run1('Pow', 15, [host(INT64, [3], [3n, 3n, -2n]), host(INT64, [3], [39n, 40n, 63n])]);
    assertExact(i64, INT64, [3], [3n ** 39n, -(2n ** 63n), -(2n ** 63n)]);
    assertClose(run1('Pow', 15, [device(FLOAT, [3], [2, -2, 0.5]), host(INT64, [3], [3n, 3n, -2n])]), FLOAT, [3], [8, -8, 4]);
  });

  test(`comparisons give BOOL, exact on int64, strings compare by bytes (${b})`, async () => {
    await useBackend(b);
    const x = host(INT64, [3], [9007199254740993n, 5n, -1n]);
    const y = host(INT64, [3], [9007199254740992n, 5n, 0n]);
    assertExact(run1('Equal', 13, [x, y]), BOOL, [3], [0, 1, 0]);
    assertExact(run1('Greater', 13, [x, y]), BOOL, [3], [1, 0, 0]);
    assertExact(run1('LessOrEqual', 16, [x, y]), BOOL, [3], [0, 1, 1]);
    const f = device(FLOAT, [2, 2], [1, NaN, 3, 4]);
    assertExact(run1('Less', 13, [f, host(FLOAT, [2], [2, 2])]), BOOL, [2, 2], [1, 0, 0, 0]);
    assertExact(run1('GreaterOrEqual', 16, [f, host(FLOAT, [], [3])]), BOOL, [2, 2], [0, 0, 1, 1]);
    const enc = new TextEncoder();
    const s1 = host(STRING, [2], ['abc', 'x'].map((s) => enc.encode(s)));
    const s2 = host(STRING, [2], ['abc', 'y'].map((s) => enc.encode(s)));
    assertExact(run1('Equal', 19, [s1, s2]), BOOL, [2], [1, 0]);
    const t = host(BOOL, [4], [1, 1, 0, 0]);
    const u = device(BOOL, [4], [1, 0, 1, 0]);
    assertExact(run1('And', 7, [t, u]), BOOL, [4], [1, 0, 0, 0]);
    assertExact(run1('Or', 7, [t, host(BOOL, [4], [1, 0, 1, 0])]), BOOL, [4], [1, 1, 1, 0]);
    assertExact(run1('Xor', 7, [t, u]), BOOL, [4], [0, 1, 1, 0]);
    assertExact(run1('Not', 1, [t]), BOOL, [4], [0, 0, 1, 1]);
    assertExact(run1('IsNaN', 13, [f]), BOOL, [2, 2], [0, 1, 0, 0]);
    const inf = device(FLOAT, [3], [Infinity, -Infinity, 1]);
    assertExact(run1('IsInf', 10, [inf]), BOOL, [3], [1, 1, 0]);
    assertExact(run1('IsInf', 10, [inf], { detect_negative: 0 }), BOOL, [3], [1, 0, 0]);
  });

  test(`opset 6 Add broadcasts B at axis only with broadcast=1; opset 7 is numpy-style (${b})`, async () => {
    await useBackend(b);
    const a = device(FLOAT, [2, 3, 2], Array.from({ length: 12 }, (_, i) => i));
    const bias = host(FLOAT, [3], [100, 200, 300]);
    const legacy = run1('Add', 6, [a, bias], { broadcast: 1, axis: 1 });
    assertClose(legacy, FLOAT, [2, 3, 2], [100, 101, 202, 203, 304, 305, 106, 107, 208, 209, 310, 311]);
    assert.throws(() => run1('Add', 7, [a, bias]), /cannot be broadcast/);
    const numpy = run1('Add', 7, [a, host(FLOAT, [3, 1], [100, 200, 300])]);
    assertClose(numpy, FLOAT, [2, 3, 2], [100, 101, 202, 203, 304, 305, 106, 107, 208, 209, 310, 311]);
  });

  test(`Where selects int64 on the host and floats on tfjs, with broadcasting (${b})`, async () => {
    await useBackend(b);
    const c = host(BOOL, [2, 1], [1, 0]);
    assertExact(run1('Where', 16, [c, host(INT64, [3], [2n ** 60n, 2n, 3n]), host(INT64, [], [-1n])]), INT64, [2, 3], [2n ** 60n, 2n, 3n, -1n, -1n, -1n]);
    const w = run1('Where', 16, [c, device(FLOAT, [3], [1, 2, 3]), host(FLOAT, [], [9])]);
    assert.equal(w.onDevice, true);
    assertClose(w, FLOAT, [2, 3], [1, 2, 3, 9, 9, 9]);
  });

  test(`Clip: attribute form before opset 11, optional inputs after, min > max gives max (${b})`, async () => {
    await useBackend(b);
    const x = device(FLOAT, [5], [-5, -0.5, 0.5, 5, NaN]);
    assertClose(run1('Clip', 6, [x], { min: { float: -1 }, max: { float: 1 } }), FLOAT, [5], [-1, -0.5, 0.5, 1, NaN]);
    assertClose(run1('Clip', 6, [x], { max: { float: 0 } }), FLOAT, [5], [-5, -0.5, 0, 0, NaN]);
    // Since 11 the attributes are ignored; bounds are inputs, each optional (null = omitted).
    assertClose(run1('Clip', 11, [x, host(FLOAT, [], [-1]), null]), FLOAT, [5], [-1, -0.5, 0.5, 5, NaN]);
    assertClose(run1('Clip', 13, [x, null, host(FLOAT, [], [0])]), FLOAT, [5], [-5, -0.5, 0, 0, NaN]);
    assertClose(run1('Clip', 13, [x]), FLOAT, [5], [-5, -0.5, 0.5, 5, NaN]);
    assertClose(run1('Clip', 13, [device(FLOAT, [2], [-3, 3]), host(FLOAT, [], [2]), host(FLOAT, [], [1])]), FLOAT, [2], [1, 1]);
    // Integer clips, exact on the host and on tfjs; an omitted bound is the type's range.
    assertExact(run1('Clip', 13, [host(INT8, [3], [-128, 0, 127]), host(INT8, [], [-100]), null]), INT8, [3], [-100, 0, 127]);
    assertExact(run1('Clip', 13, [host(INT64, [2], [2n ** 62n, -5n]), host(INT64, [], [0n]), host(INT64, [], [2n ** 61n])]), INT64, [2], [2n ** 61n, 0n]);
    assertExact(run1('Clip', 13, [device(INT32, [3], [-9, 4, 9]), host(INT32, [], [-2]), host(INT32, [], [5])]), INT32, [3], [-2, 4, 5]);
  });

  test(`Softmax and LogSoftmax: opset 11 coerces to 2-D at axis, opset 13 normalises along the axis (${b})`, async () => {
    await useBackend(b);
    const vals = Array.from({ length: 24 }, (_, i) => Math.sin(i) * 3);
    const x = host(FLOAT, [2, 3, 4], vals);
    const ref = (groups: number[][]) => {
      const out = new Array<number>(24);
      for (const g of groups) {
        const m = Math.max(...g.map((i) => vals[i]!));
        const s = g.reduce((acc, i) => acc + Math.exp(vals[i]! - m), 0);
        for (const i of g) out[i] = Math.exp(vals[i]! - m) / s;
      }
      return out;
    };
    // Opset 11, axis=1: rows of 3*4 = 12 elements.
    const rows = [0, 1].map((r) => Array.from({ length: 12 }, (_, i) => r * 12 + i));
    assertClose(run1('Softmax', 11, [x], { axis: 1 }), FLOAT, [2, 3, 4], ref(rows));
    // Opset 13, axis=1: groups of 3 along the middle axis.
    const cols: number[][] = [];
    for (let n = 0; n < 2; n++) for (let w = 0; w < 4; w++) cols.push([0, 1, 2].map((c) => n * 12 + c * 4 + w));
    assertClose(run1('Softmax', 13, [x], { axis: 1 }), FLOAT, [2, 3, 4], ref(cols));
    // Defaults: 1 before 13 (coerced), -1 since.
    assertClose(run1('Softmax', 1, [x]), FLOAT, [2, 3, 4], ref(rows));
    const last = [0, 1, 2, 3, 4, 5].map((r) => [0, 1, 2, 3].map((i) => r * 4 + i));
    assertClose(run1('Softmax', 13, [x]), FLOAT, [2, 3, 4], ref(last));
    assertClose(run1('LogSoftmax', 11, [x], { axis: 1 }), FLOAT, [2, 3, 4], ref(rows).map(Math.log), 1e-5, 1e-5);
    assertClose(run1('LogSoftmax', 13, [x], { axis: 1 }), FLOAT, [2, 3, 4], ref(cols).map(Math.log), 1e-5, 1e-5);
    // Large logits stay finite (the maximum is subtracted first).
    assertClose(run1('Softmax', 13, [host(FLOAT, [2], [1000, 1000])]), FLOAT, [2], [0.5, 0.5]);
  });

  test(`activations match their formulas; float16 keeps its type (${b})`, async () => {
    await useBackend(b);
    const xs = [-3, -0.5, 0, 0.5, 3];
    const x = host(FLOAT, [5], xs);
    const close = (op: string, opset: number, f: (v: number) => number, attrs = {}) => assertClose(run1(op, opset, [x], attrs), FLOAT, [5], xs.map(f), 1e-5, 1e-6);
    close('Elu', 6, (v) => (v > 0 ? v : 0.7 * Math.expm1(v)), { alpha: { float: 0.7 } });
    close('Selu', 6, (v) => 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * Math.expm1(v)));
    close('LeakyRelu', 16, (v) => (v >= 0 ? v : 0.1 * v), { alpha: { float: 0.1 } });
    close('HardSigmoid', 6, (v) => Math.max(0, Math.min(1, 0.2 * v + 0.5)));
    close('HardSwish', 14, (v) => v * Math.max(0, Math.min(1, v / 6 + 0.5)));
    close('Softplus', 1, (v) => Math.log1p(Math.exp(v)));
    close('Softsign', 1, (v) => v / (1 + Math.abs(v)));
    const erf = (v: number) => {
      // Abramowitz-Stegun 7.1.26 is what tfjs uses; a reference series here instead.
      let s = 0;
      let term = v;
      for (let n = 0; n < 60; n++) {
        s += term / (2 * n + 1);
        term *= (-v * v) / (n + 1);
      }
      return (2 / Math.sqrt(Math.PI)) * s;
    };
    close('Gelu', 20, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
    close('Gelu', 20, (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))), { approximate: 'tanh' });
    close('Erf', 13, erf);
    const slope = host(FLOAT, [5], [0.1, 0.2, 0.3, 0.4, 0.5]);
    assertClose(run1('PRelu', 16, [x, slope]), FLOAT, [5], [-0.30000001192092896, -0.1, 0, 0.5, 3]);
    // Opset 6 per-channel slope [C] on [N, C, W].
    const x3 = host(FLOAT, [1, 2, 2], [-1, -2, -3, 4]);
    assertClose(run1('PRelu', 6, [x3, host(FLOAT, [2], [0.5, 0.25])]), FLOAT, [1, 2, 2], [-0.5, -1, -0.75, 4]);
    const h = run1('Sigmoid', 13, [host(FLOAT16, [2], [0, 2])]);
    assertClose(h, FLOAT16, [2], [0.5, 0.8808], 1e-3, 0);
    assertExact(run1('Relu', 14, [host(INT8, [2], [-5, 5])]), INT8, [2], [0, 5]);
    // Max / Min propagate NaN from either side and accept int64 exactly.
    assertClose(run1('Max', 13, [device(FLOAT, [3], [1, NaN, 3]), device(FLOAT, [3], [NaN, 2, 1])]), FLOAT, [3], [NaN, NaN, 3]);
    assertClose(run1('Min', 13, [device(FLOAT, [3], [1, NaN, 3]), device(FLOAT, [3], [NaN, 2, 1])]), FLOAT, [3], [NaN, NaN, 1]);
    assertExact(run1('Max', 13, [host(INT64, [2], [2n ** 60n + 1n, 0n]), host(INT64, [2], [2n ** 60n, 1n]), host(INT64, [], [-4n])]), INT64, [2], [2n ** 60n + 1n, 1n]);
    assertClose(run1('Mean', 13, [x, host(FLOAT, [1], [1])]), FLOAT, [5], xs.map((v) => (v + 1) / 2));
    assertClose(run1('Sum', 13, [x, x, host(FLOAT, [], [1])]), FLOAT, [5], xs.map((v) => 2 * v + 1));
    assertClose(run1('Round', 11, [x]), FLOAT, [5], [-3, -0, 0, 0, 3]);
    assertClose(run1('Round', 11, [host(FLOAT, [4], [1.5, 2.5, -1.5, -2.5])]), FLOAT, [4], [2, 2, -2, -2]);
  });
}

test('activations stay differentiable in training mode (no selects on comparisons)', async () => {
  // tfjs-core alone registers no gradients; the union package registers them all.
  await import('@tensorflow/tfjs');
  for (const b of backends) {
    await useBackend(b);
    const xs = [-2, -0.5, 0.25, 2];
    const v = tf.variable(tf.tensor(xs));
    const grad = (op: string, attrs = {}) => {
      const { grads } = tf.variableGrads(() => {
        const y = run1(op, 17, [RTensor.fromTf(v, FLOAT)], attrs, true);
        return tf.sum(y.tf) as tf.Scalar;
      });
      const g = Array.from(grads[v.name]!.dataSync());
      grads[v.name]!.dispose();
      return g;
    };
    const near = (got: number[], want: number[]) => want.forEach((w, i) => assert.ok(Math.abs(got[i]! - w) < 1e-4, `${b}: ${got} vs ${want}`));
    near(grad('Elu', { alpha: { float: 0.5 } }), xs.map((x) => (x > 0 ? 1 : 0.5 * Math.exp(x))));
    near(grad('Selu'), xs.map((x) => 1.0507009873554805 * (x > 0 ? 1 : 1.6732632423543772 * Math.exp(x))));
    near(grad('HardSigmoid'), xs.map((x) => (Math.abs(0.2 * x) < 0.5 ? 0.2 : 0)));
    near(grad('Max'), xs.map(() => 1));
    near(grad('Cast', { to: FLOAT16 }), xs.map(() => 1));
    v.dispose();
  }
});
