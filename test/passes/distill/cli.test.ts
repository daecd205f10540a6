import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixtures } from './helpers.js';
import { testBackend } from '../../helpers/backend.js';

// The compiled CLI beside this compiled test (…/test/passes/distill -> …/src/cli/main.js).
const main = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'cli', 'main.js');

test('Ctrl-C during `compress distill` writes the checkpoint and exits 1 with the hint to resume', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'distill-cli-'));
  try {
    const args = [
      main, 'distill', '--teacher', join(fixtures, 'mlp', 'model.onnx'), '--student', join(fixtures, 'mlp_student', 'model.onnx'),
      '--data', join(fixtures, 'mlp', 'data', 'train_x.npy'), '--samples', '64', '--batch-size', '8', '--epochs', '200',
      '--backend', testBackend, '--checkpoint', join(dir, 'ck'), '-o', join(dir, 'out.onnx'), '--no-report',
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // Interrupt once training is under way (the first epoch is done).
      if (/epoch 1: loss/.test(stderr) && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /distill interrupted at epoch \d+, batch \d+ of 8; checkpoint written to/);
    assert.match(stderr, /--resume/);
    const state = JSON.parse(readFileSync(join(dir, 'ck', 'current', 'state.json'), 'utf8')) as { epoch: number; step: number };
    assert.ok(state.epoch >= 1 && state.epoch < 200 && state.step >= 8, JSON.stringify(state));
    assert.ok(existsSync(join(dir, 'ck', 'current', 'adam_v', '0.npy')));
    assert.ok(!existsSync(join(dir, 'out.onnx')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
