/**
 * Where a forward pass spends its time: runs each benchmark model timing every node, and prints the time
 * per op type and the slowest nodes (a conv that ran fused with the ops after it as 'Conv+Mul+Add'). The wasm and cpu backends compute synchronously inside each tfjs
 * call, so the time between two nodes is the first node's; on asynchronous backends (webgl, or with
 * --readback) every node's outputs are read back, which charges the work to the node that caused it but
 * adds the copy (~1.5 ms per MB on wasm). Use it to rank, and the benchmark to measure.
 * Times are this process's CPU time (user + system) by default, which other jobs on a shared machine
 * hardly disturb, and which equals the wall time of a single-threaded backend (wasm, cpu) on an idle
 * one; `--clock wall` takes the wall clock (what a multi-threaded or GPU backend needs).
 * Options: --backend <name>, --only <cnn|lm|ppocr>, --runs <n> (5), --top <n> nodes (15), --readback,
 * --clock cpu|wall; --model <onnx> --shape 8x512 [--type int64|float32] [--input name] [--vocab n] profiles
 * any single-input model instead.
 */
import { existsSync } from 'node:fs';
import { loadModel } from '../src/onnx/index.js';
import type { BackendName } from '../src/runtime/backend.js';
import type { Node } from '../src/ir/node.js';
import { Session } from '../src/runtime/session.js';
import { arg, cases, modelCase, rtensorFeeds } from './cases.js';

async function main(): Promise<void> {
  const backend = arg('--backend', 'auto') as BackendName;
  const only = arg('--only', '');
  const runs = Number(arg('--runs', '5'));
  const top = Number(arg('--top', '15'));
  const clock = arg('--clock', 'cpu');
  const now = clock === 'wall' ? () => performance.now() : () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const extra = modelCase();
  for (const c of extra ? [extra] : cases) {
    if ((only && c.key !== only) || !existsSync(c.path)) continue;
    const session = await Session.create(await loadModel(c.path), { backend });
    const readback = process.argv.includes('--readback') || !['wasm', 'cpu', 'tfjs-node', 'tfjs-node-gpu'].includes(session.backend.name);
    const feeds = rtensorFeeds(c.inputs());
    const perNode = new Map<Node, number>();
    /** Convs that ran fused with the ops after them, as 'Conv+Mul+Add'. */
    const fusedAs = new Map<Node, string>();
    let total = 0;
    for (let r = 0; r <= runs; r++) {
      let last = now();
      const t0 = last;
      const out = session.runSync(feeds, {
        afterNode: (node, outputs, absorbed) => {
          if (absorbed) fusedAs.set(node, `${node.opType}+${absorbed.map((n) => n.opType).join('+')}`);
          if (readback) {
            // (An output the executor freed already, having no consumer, was computed all the same.)
            for (const t of outputs) if (t?.onDevice) t.tf.dataSync();
          }
          const at = now();
          // Run 0 is the warm-up (folding constants, packing weights): not counted.
          if (r > 0) perNode.set(node, (perNode.get(node) ?? 0) + at - last);
          last = at;
        },
      });
      for (const t of out.values()) t.dispose();
      if (r > 0) total += now() - t0;
    }
    const perType = new Map<string, { ms: number; count: number }>();
    const label = (n: Node) => fusedAs.get(n) ?? n.opType;
    for (const [n, ms] of perNode) {
      const e = perType.get(label(n)) ?? { ms: 0, count: 0 };
      e.ms += ms / runs;
      e.count++;
      perType.set(label(n), e);
    }
    console.log(`\n${c.name}: ${(total / runs).toFixed(1)} ms (${clock === 'wall' ? 'wall clock' : 'CPU time'}) per run${readback ? ' (with read-backs)' : ''}`);
    console.table([...perType].sort((a, b) => b[1].ms - a[1].ms).map(([op, e]) => ({ op, nodes: e.count, ms: Number(e.ms.toFixed(2)), share: `${((100 * e.ms * runs) / total).toFixed(1)}%` })));
    console.table([...perNode].sort((a, b) => b[1] - a[1]).slice(0, top).map(([n, ms]) => ({ node: n.name, op: label(n), ms: Number((ms / runs).toFixed(2)) })));
    session.dispose();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
