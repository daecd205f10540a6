import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashFile, prefetchHashes } from '../../../src/cli/batch/hash.js';

test('hashFile: SHA-256 and size of a small file (here) and of a big one (the hashing thread), each hashed again when it changes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'compress-hash-'));
  try {
    const small = join(dir, 'small.bin');
    const big = join(dir, 'big.bin');
    const smallBytes = Buffer.from('compress');
    const bigBytes = Buffer.alloc(65 * 2 ** 20 + 3, 7);
    bigBytes[12345] = 1;
    writeFileSync(small, smallBytes);
    writeFileSync(big, bigBytes);
    prefetchHashes([big]);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    assert.deepEqual(await hashFile(small), { sha256: sha(smallBytes), bytes: smallBytes.length });
    assert.deepEqual(await hashFile(big), { sha256: sha(bigBytes), bytes: bigBytes.length });
    bigBytes[0] = 9;
    writeFileSync(big, bigBytes);
    assert.equal((await hashFile(big)).sha256, sha(bigBytes));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
