/**
 * The python side of the peer benchmarks (bench/peers.ts, bench/llm.ts): the interpreter given by
 * --python or PEERS_PYTHON, else the venv that bench/peers-venv.sh makes (or finds) under .cache/.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { lastMeaningfulLine } from './proctree.js';

/**
 * The python to run onnxruntime's tools with, or undefined when there is none; then `log` has been
 * given the one line that says why (no python3, or the package index unreachable), and only our side runs.
 */
export function peerPython(root: string, given: string, log: (line: string) => void): string | undefined {
  if (given !== '') return given;
  log('preparing the python venv of the peer side (bench/peers-venv.sh; the first time takes a few minutes)');
  const r = spawnSync('sh', [join(root, 'bench', 'peers-venv.sh')], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    log(lastMeaningfulLine(r.stderr ?? '') || 'the python venv of the peer side could not be made; only our side runs');
    return undefined;
  }
  return r.stdout.trim().split('\n').pop();
}
