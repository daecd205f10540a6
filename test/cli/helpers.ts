/**
 * Helpers for the CLI tests: where the compiled CLI and the repository are, and running the CLI as a
 * user would (a child process, never a TTY), capturing its exit code and both streams.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DataType } from '../../src/core/dtype.js';
import { Graph, Model, Tensor } from '../../src/ir/index.js';

/** The compiled CLI entry beside this compiled test (dist/src/cli/main.js, or .build/<name>/...). */
export const mainJs = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

import { repoRoot } from '../helpers/repo.js';
export { repoRoot };

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `node main.js ...args` with NO_COLOR set, returning its exit code, output and wall time. */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [mainJs, ...args], {
      cwd: options.cwd ?? repoRoot(),
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr, ms: performance.now() - t0 }));
  });
}

/** Non-empty lines of a stream. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

/**
 * A small two-layer model (MatMul + Add, Relu, MatMul) with known initializers, built in the IR:
 * W1 [16, 8] with its first row zero, b1 [8] zeros, W2 [8, 4].
 */
export function tinyModel(): Model {
  const g = new Graph('tiny');
  const x = g.addInput('x', { kind: 'tensor', elemType: DataType.FLOAT, shape: ['batch', 16] });
  const w1 = Float32Array.from({ length: 128 }, (_, i) => (i < 8 ? 0 : Math.sin(i)));
  const W1 = g.addInitializer('W1', Tensor.float32([16, 8], w1));
  const b1 = g.addInitializer('b1', Tensor.float32([8], new Float32Array(8)));
  const W2 = g.addInitializer('W2', Tensor.float32([8, 4], Float32Array.from({ length: 32 }, (_, i) => Math.cos(i))));
  const mm = g.createNode({ opType: 'MatMul', inputs: [x, W1], outputs: ['h0'] });
  const add = g.createNode({ opType: 'Add', inputs: [mm.output(0), b1], outputs: ['h1'] });
  const relu = g.createNode({ opType: 'Relu', inputs: [add.output(0)], outputs: ['h2'] });
  const mm2 = g.createNode({ opType: 'MatMul', inputs: [relu.output(0), W2], outputs: ['y'] });
  const y = mm2.output(0)!;
  y.type = { kind: 'tensor', elemType: DataType.FLOAT, shape: ['batch', 4] };
  g.outputs.push(y);
  return new Model(g, 8, [{ domain: '', version: 17 }]);
}
