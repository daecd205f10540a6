/**
 * The peer benchmark's evaluators (bench/peers-data.ts) and table helpers (bench/table.ts): char accuracy
 * by edit distance, CTC labels to text through PaddleOCR's character list, the .npz both sides calibrate
 * on, and the markdown table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpz } from '../../src/calibration/readers/npz.js';
import { charAccuracy, editDistance, labelsToText, writeNpz } from '../../bench/peers-data.js';
import { markdownTable, mb, ratio } from '../../bench/table.js';

test('editDistance counts insertions, deletions and substitutions by code point', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('abc', ''), 3);
  assert.equal(editDistance('flaw', 'lawn'), 2);
  assert.equal(editDistance('识别', '识別'), 1);
  assert.equal(editDistance('same', 'same'), 0);
});

test('charAccuracy is 1 - summed edit distance / characters of the truth', () => {
  assert.equal(charAccuracy(['hello', 'world'], ['hello', 'world']), 1);
  // 1 substitution in 10 characters.
  assert.equal(charAccuracy(['hellp', 'world'], ['hello', 'world']), 0.9);
  // An empty reading of "abcd" costs 4, a line read twice as long costs its extra characters.
  assert.equal(charAccuracy(['', 'abab'], ['abcd', 'ab']), 1 - 6 / 6);
});

test('labelsToText maps class k to line k of the character list and the class after it to a space', () => {
  const keys = ['a', 'b', '7'];
  assert.deepEqual(labelsToText([[1, 2, 4, 3], []], keys), ['ab 7', '']);
});

test('writeNpz writes one member per input that our reader reads back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peers-npz-'));
  try {
    const x = Float32Array.from({ length: 6 }, (_, i) => i / 2);
    const ids = BigInt64Array.from([1n, 2n, 3n, 4n]);
    writeNpz(join(dir, 'c.npz'), { x: { dataType: 1, shape: [2, 3], data: x }, ids: { dataType: 7, shape: [2, 2], data: ids } });
    const back = readNpz(join(dir, 'c.npz'));
    assert.deepEqual([...back.keys()].sort(), ['ids', 'x']);
    assert.deepEqual(back.get('x')!.shape, [2, 3]);
    assert.deepEqual(Array.from(back.get('x')!.data as Float32Array), Array.from(x));
    assert.deepEqual(Array.from(back.get('ids')!.data as BigInt64Array), [1n, 2n, 3n, 4n]);
    assert.throws(() => writeNpz(join(dir, 'bad.npz'), { u: { dataType: 2, shape: [1], data: new Uint8Array(1) } }), /neither float32 nor int64/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('markdownTable escapes pipes; mb and ratio format sizes and ratios', () => {
  assert.equal(markdownTable(['a', 'b'], [['x|y', '1']]), '| a | b |\n| --- | --- |\n| x\\|y | 1 |');
  assert.equal(mb(2_340_000), '2.34');
  assert.equal(mb(12_700_000), '12.7');
  assert.equal(mb(4_402_000_000), '4402');
  assert.equal(ratio(1, 3), '0.333x');
  assert.equal(ratio(1, 0), '');
  assert.equal(ratio(undefined, 2), '');
});
