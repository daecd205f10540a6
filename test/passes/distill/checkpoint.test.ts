import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNpy } from '../../../src/calibration/readers/npy.js';
import { encodeNpyFloat32, loadCheckpoint, saveCheckpoint, type Checkpoint } from '../../../src/passes/distill/checkpoint.js';
import { UsageError } from '../../../src/core/errors.js';

test('encodeNpyFloat32 writes a .npy numpy (and our reader) reads back', () => {
  const data = new Float32Array([1.5, -2, 3.25, 0, 7, 8]);
  const bytes = encodeNpyFloat32([2, 3], data);
  assert.equal((bytes.length - data.byteLength) % 64, 0);
  const a = parseNpy(bytes, 'x');
  assert.deepEqual(a.shape, [2, 3]);
  assert.deepEqual([...(a.data as Float32Array)], [...data]);
  assert.deepEqual(parseNpy(encodeNpyFloat32([4], new Float32Array(4)), 'y').shape, [4]);
});

test('a checkpoint saves and loads whole; --resume without one is a usage error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'distill-ck-'));
  try {
    assert.throws(() => loadCheckpoint(dir), UsageError);
    const names = ['w', 'b/with/slashes'];
    const arr = (k: number) => names.map((name, i) => ({ name, dims: i === 0 ? [2, 2] : [2], data: new Float32Array(i === 0 ? [k, 2, 3, 4] : [k, -1]) }));
    const ck: Checkpoint = {
      state: { version: 1, epoch: 2, batch: 3, step: 23, rngState: 123456789, epochLoss: 4.5, epochSeen: 96, best: { value: 0.8, epoch: 2 }, history: [{ epoch: 1, loss: 1 }], fingerprint: { seed: 1 }, names },
      weights: arr(1),
      adamM: arr(2),
      adamV: arr(3),
      best: arr(4),
    };
    saveCheckpoint(dir, ck);
    saveCheckpoint(dir, ck); // overwrites the previous one
    const back = loadCheckpoint(dir);
    assert.deepEqual(back.state, ck.state);
    for (const key of ['weights', 'adamM', 'adamV', 'best'] as const) {
      assert.deepEqual(back[key]!.map((a) => [a.name, a.dims, [...a.data]]), ck[key]!.map((a) => [a.name, a.dims, [...a.data]]));
    }
    assert.ok(readFileSync(join(dir, 'current', 'state.json'), 'utf8').includes('"rngState": 123456789'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
