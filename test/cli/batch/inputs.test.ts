/**
 * Batch inputs: folders walked (our outputs, hidden entries and the -o folder left out), globs with
 * `*`, `?` and `**`, files as given, each model once; the output tree's root; the shards' shares.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../../src/core/errors.js';
import { expandInputs } from '../../../src/cli/batch/inputs.js';
import { parseShard, shareOf, sortedForShards } from '../../../src/cli/batch/shard.js';
import { commonRoot, mirrored } from '../../../src/cli/batch/tree.js';
import { planBatch } from '../../../src/cli/batch/plan.js';
import { tempDir } from '../../helpers/tmp.js';

function tree(): string {
  const dir = tempDir('compress-inputs-');
  const files = [
    'models/a/model.onnx',
    'models/a/model.onnx.data',
    'models/a/model.quantize.onnx',
    'models/b/model.onnx',
    'models/b/notes.txt',
    'models/c/deep/er/model.onnx',
    'models/.cache/model.onnx',
    'models/out/a/model.onnx',
    'other/x.onnx',
  ];
  for (const f of files) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), '');
  }
  return dir;
}

const usage = (re: RegExp) => (e: Error) => e instanceof UsageError && re.test(e.message);

test('a folder: every .onnx below it, sorted, less our outputs, hidden folders and the -o folder', () => {
  const dir = tree();
  const m = join(dir, 'models');
  const r = expandInputs([m], { command: 'quantize', exclude: join(m, 'out') });
  assert.deepEqual(r.files, ['a/model.onnx', 'b/model.onnx', 'c/deep/er/model.onnx'].map((f) => join(m, f)));
  assert.deepEqual(r.anchors, [m]);
  assert.equal(r.expanded, true);
  // Another command's outputs are models like any other; without -o the out folder is walked too.
  const p = expandInputs([m], { command: 'prune' }).files;
  assert.ok(p.includes(join(m, 'a/model.quantize.onnx')));
  assert.ok(p.includes(join(m, 'out/a/model.onnx')));
});

test('globs: * and ? within a level, ** across levels; files as given; each model once', () => {
  const dir = tree();
  const m = join(dir, 'models');
  assert.deepEqual(expandInputs([join(m, '*/model.onnx')], { command: 'quantize' }).files, [join(m, 'a/model.onnx'), join(m, 'b/model.onnx')]);
  assert.deepEqual(
    expandInputs([join(m, '**/*.onnx')], { command: 'quantize', exclude: join(m, 'out') }).files,
    ['a/model.onnx', 'b/model.onnx', 'c/deep/er/model.onnx'].map((f) => join(m, f)),
  );
  // A glob matching folders walks them.
  assert.deepEqual(expandInputs([join(m, '?')], { command: 'quantize' }).files, ['a/model.onnx', 'b/model.onnx', 'c/deep/er/model.onnx'].map((f) => join(m, f)));
  // A file named outright is taken even when it is an output; the same model twice is taken once.
  const own = join(m, 'a/model.quantize.onnx');
  const r = expandInputs([own, join(m, 'a'), join(m, 'a/../a/model.onnx')], { command: 'quantize' });
  assert.deepEqual(r.files, [own, join(m, 'a/model.onnx')]);
  assert.equal(r.expanded, true);
  const plain = expandInputs(['x.onnx', 'y.onnx'], { command: 'quantize' });
  assert.deepEqual(plain, { files: ['x.onnx', 'y.onnx'], anchors: [join(process.cwd()), join(process.cwd())], expanded: false });
  assert.throws(() => expandInputs([join(m, '*/*.pt')], { command: 'quantize' }), usage(/no model file matches/));
  assert.throws(() => expandInputs([join(m, 'a/*.quantize.onnx')], { command: 'quantize' }), usage(/no model file matches/));
  mkdirSync(join(dir, 'empty'));
  assert.throws(() => expandInputs([join(dir, 'empty')], { command: 'quantize' }), usage(/no \.onnx model below the folder/));
});

test('the tree root: the common ancestor of the folders named and the folders of the files named', () => {
  assert.equal(commonRoot(['/m/a', '/m/b/c']), '/m');
  assert.equal(commonRoot(['/m/a']), '/m/a');
  assert.equal(commonRoot(['/m/ab', '/m/a']), '/m');
  assert.equal(commonRoot(['/x', '/y']), '/');
  assert.equal(mirrored('out', '/m', '/m/a/model.onnx', 'model.quantize.onnx'), join('out', 'a', 'model.quantize.onnx'));
  assert.equal(mirrored('out', '/m/a', '/m/a/model.onnx', 'model.quantize.onnx'), join('out', 'model.quantize.onnx'));
  const dir = tree();
  const b = planBatch('quantize', [join(dir, 'models/a/model.onnx'), join(dir, 'models/b/model.onnx')], {});
  assert.equal(b.root, join(dir, 'models'));
  assert.equal(b.several, true);
  // One folder with one model is still a batch (-o names a folder); one file is not.
  assert.equal(planBatch('quantize', [join(dir, 'other')], {}).several, true);
  assert.equal(planBatch('quantize', [join(dir, 'other/x.onnx')], {}).several, false);
});

test('--shard i/n: validated; n shares of the sorted inputs cover each model exactly once', () => {
  assert.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
  for (const bad of ['0/2', '3/2', '1/0', '1', 'a/b', '1.5/2', '-1/2', '1/2/3', '']) assert.throws(() => parseShard(bad), usage(/--shard must be i\/n with integers 1 <= i <= n/), bad);
  const inputs = ['/m/b/model.onnx', '/m/a/model.onnx', '/m/c/z.onnx', '/m/c/a.onnx', '/m/B/model.onnx', '/m/d.onnx', '/m/e/f/g.onnx'];
  const sorted = sortedForShards(inputs, '/m');
  assert.deepEqual(sorted, ['/m/B/model.onnx', '/m/a/model.onnx', '/m/b/model.onnx', '/m/c/a.onnx', '/m/c/z.onnx', '/m/d.onnx', '/m/e/f/g.onnx'], 'code-unit order, not the locale');
  for (let n = 1; n <= 9; n++) {
    const shares = Array.from({ length: n }, (_, i) => shareOf(sorted, { index: i + 1, count: n }));
    assert.deepEqual(shares.flat().sort(), [...inputs].sort(), `n = ${n}: the union is every model once`);
    const sizes = shares.map((s) => s.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `n = ${n}: balanced ${sizes}`);
  }
  // Given in another order, the shares are the same.
  assert.deepEqual(shareOf(sortedForShards([...inputs].reverse(), '/m'), { index: 2, count: 3 }), shareOf(sorted, { index: 2, count: 3 }));
});
