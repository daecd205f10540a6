import { test } from 'node:test';
import { f32, matchOrt, nnBackends, outs, seeded, type NodeSpec } from './nnHarness.js';

const M = 5;
const K = 7;
const N = 4;
const cases: { name: string; attrs: Record<string, number>; c?: number[]; constB?: boolean }[] = [
  { name: 'plain, no C', attrs: {} },
  { name: 'transB with a constant B and a [N] bias (fused, cached transpose)', attrs: { transB: 1 }, c: [N], constB: true },
  { name: 'transA and transB, [1, N] constant bias', attrs: { transA: 1, transB: 1 }, c: [1, N], constB: true },
  { name: 'transA, [M, 1] bias', attrs: { transA: 1 }, c: [M, 1] },
  { name: 'alpha and beta, [M, N] C', attrs: { alpha: 0.5, beta: -2.5 }, c: [M, N] },
  { name: 'scalar C, beta 0.25', attrs: { beta: 0.25 }, c: [] },
  { name: 'transB, alpha 1.5, [N] bias', attrs: { transB: 1, alpha: 1.5 }, c: [N] },
];

for (const c of cases) {
  for (const backend of nnBackends) {
    test(`Gemm ${c.name} on ${backend}: matches onnxruntime`, async () => {
      const r = seeded(c.name);
      const a = c.attrs.transA ? [K, M] : [M, K];
      const b = c.attrs.transB ? [N, K] : [K, N];
      const spec: NodeSpec = {
        opType: 'Gemm',
        opset: 13,
        inputs: [f32(r, 'a', a), f32(r, 'b', b, c.constB), c.c ? f32(r, 'c', c.c, c.constB) : null],
        attrs: c.attrs,
        outputs: outs(1),
      };
      await matchOrt(spec, backend, 1e-5, 3);
    });
  }
}
