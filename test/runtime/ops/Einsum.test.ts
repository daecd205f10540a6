import { test } from 'node:test';
import { f32, matchOrt, nnBackends, outs, seeded, type NodeSpec } from './nnHarness.js';

const cases: { eq: string; shapes: number[][] }[] = [
  { eq: 'ij,jk->ik', shapes: [[3, 4], [4, 5]] },
  { eq: 'bhqd,bhkd->bhqk', shapes: [[2, 3, 5, 4], [2, 3, 6, 4]] },
  { eq: 'bij,jk', shapes: [[2, 3, 4], [4, 5]] },
  { eq: '...ij,...jk->...ik', shapes: [[2, 3, 4, 5], [2, 3, 5, 2]] },
  { eq: '...ij->...ji', shapes: [[2, 3, 4]] },
  { eq: 'ii->i', shapes: [[4, 4]] },
  { eq: 'ii', shapes: [[5, 5]] },
  { eq: 'ij->ji', shapes: [[3, 5]] },
  { eq: 'ijk->', shapes: [[2, 3, 4]] },
  { eq: 'i,j->ij', shapes: [[3], [4]] },
  { eq: 'ij,ij->i', shapes: [[3, 4], [3, 4]] },
  { eq: 'ab,bc,cd->ad', shapes: [[2, 3], [3, 4], [4, 5]] },
  { eq: 'bnij,bnj->bni', shapes: [[2, 2, 3, 4], [2, 2, 4]] },
  { eq: 'iij,jk->ik', shapes: [[3, 3, 4], [4, 2]] },
];

for (const c of cases) {
  for (const backend of nnBackends) {
    test(`Einsum '${c.eq}' on ${backend}: matches onnxruntime`, async () => {
      const r = seeded(c.eq);
      const spec: NodeSpec = { opType: 'Einsum', opset: 12, inputs: c.shapes.map((s, i) => f32(r, `x${i}`, s)), attrs: { equation: c.eq }, outputs: outs(1) };
      await matchOrt(spec, backend, 1e-5);
    });
  }
}
