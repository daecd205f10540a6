/**
 * docs/batch.md's GitHub Actions matrix and Kubernetes Indexed Job, parsed as YAML and their `compress`
 * command lines run as written (with `compress` on the PATH, a shim to the compiled CLI) for two shards:
 * the matrix values and JOB_COMPLETION_INDEX substituted, each shard in its own process. The shards
 * cover every model exactly once, write byte-identical models at the same paths as one unsharded run,
 * and the merge job's line joins their summaries.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { saveModel } from '../../../src/onnx/index.js';
import type { Summary } from '../../../src/cli/batch/summary.js';
import { mainJs, repoRoot, tinyModel } from '../helpers.js';
import { tempDir } from '../../helpers/tmp.js';
import { modelFiles } from './helpers.js';

let doc: string;
let work: string;
let bin: string;

/** The body of the fenced block whose info string is `yaml <tag>`. */
function block(tag: string): string {
  const m = new RegExp(`^\`\`\`yaml ${tag}\\n([\\s\\S]*?)^\`\`\`$`, 'm').exec(doc);
  if (!m) throw new Error(`docs/batch.md has no \`\`\`yaml ${tag} block`);
  return m[1]!;
}

/** The `compress ...` lines of a shell script (backslash continuations joined). */
function compressLines(script: string): string[] {
  return script
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('compress '));
}

before(async () => {
  doc = readFileSync(join(repoRoot(), 'docs', 'batch.md'), 'utf8');
  work = tempDir('compress-batch-doc-');
  bin = join(work, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'compress'), `#!/bin/sh\nexec "${process.execPath}" "${mainJs}" "$@"\n`);
  chmodSync(join(bin, 'compress'), 0o755);
  const models = join(work, 'template', 'models');
  for (const d of ['a', 'b', 'c/deep']) mkdirSync(join(models, d), { recursive: true });
  await saveModel(tinyModel(), join(models, 'a/model.onnx'));
  await saveModel(tinyModel(), join(models, 'b/model.onnx'), { externalData: { threshold: 0 } });
  await saveModel(tinyModel(), join(models, 'c/deep/model.onnx'));
});

/** A fresh working folder holding a copy of the models, as each worker's checkout or volume would. */
function checkout(name: string): string {
  const dir = join(work, name);
  cpSync(join(work, 'template'), dir, { recursive: true });
  return dir;
}

function sh(line: string, cwd: string, env: Record<string, string> = {}) {
  return spawnSync('bash', ['-c', line], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', PATH: `${bin}:${process.env.PATH ?? ''}`, ...env } });
}

const allModels = ['models/a/model.onnx', 'models/b/model.onnx', 'models/c/deep/model.onnx'];

/** One unsharded run of `line` with the shard taken as 1/1: the reference tree. */
function reference(line: string): Map<string, Buffer> {
  const dir = checkout(`reference-${Math.random().toString(36).slice(2)}`);
  const r = sh(line, dir);
  assert.equal(r.status, 0, r.stderr);
  return modelFiles(join(dir, 'out'));
}

function checkMerged(dir: string, summaryFile: string) {
  const merged = JSON.parse(readFileSync(join(dir, summaryFile), 'utf8')) as Summary;
  assert.deepEqual(merged.rows.map((r) => r.input), allModels, 'every model exactly once');
  assert.ok(merged.rows.every((r) => r.status === 'ok'));
  assert.deepEqual(merged.shards, { count: 2, present: [1, 2], missing: [] });
  assert.equal(merged.exitCode, 0);
}

test('the GitHub Actions matrix: the shard count comes from the matrix; two shards and the merge run as written', () => {
  const wf = parse(block('batch-gha')) as { jobs: Record<string, { strategy?: { matrix: { shard: number[] } }; needs?: string; if?: string; steps: { run?: string }[] }> };
  const shards = wf.jobs.compress!.strategy!.matrix.shard;
  assert.deepEqual(shards, shards.map((_, i) => i + 1), 'matrix.shard is 1..n');
  const [line, ...rest] = wf.jobs.compress!.steps.flatMap((s) => compressLines(s.run ?? ''));
  assert.equal(rest.length, 0);
  assert.match(line!, /--shard \$\{\{ matrix\.shard \}\}\/\$\{\{ strategy\.job-total \}\}/);
  assert.match(line!, /--backend wasm/, 'the examples pin the backend');
  assert.equal(wf.jobs.merge!.needs, 'compress');
  assert.equal(wf.jobs.merge!.if, 'always()', 'the merge runs when a shard failed, and fails with it');
  const [merge] = wf.jobs.merge!.steps.flatMap((s) => compressLines(s.run ?? ''));
  assert.match(merge!, /^compress report --merge /);

  const dir = checkout('gha');
  const at = (i: number, n: number) => line!.replaceAll('${{ matrix.shard }}', String(i)).replaceAll('${{ strategy.job-total }}', String(n));
  for (const i of [1, 2]) {
    const r = sh(at(i, 2), dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`shard ${i}/2: ${i === 1 ? 2 : 1} of 3 models`));
  }
  const m = sh(merge!, dir);
  assert.equal(m.status, 0, m.stderr);
  checkMerged(dir, 'summary.json');
  assert.deepEqual(modelFiles(join(dir, 'out')), reference(at(1, 1)), 'byte-identical to one unsharded run, at the same paths');
});

test('the Kubernetes Indexed Job: SHARDS = completions; two indexes and the merge Job run as written', () => {
  const docs = parseAllDocuments(block('batch-k8s')).map((d) => d.toJS() as Record<string, any>);
  assert.equal(docs.length, 2);
  const [job, mergeJob] = docs as [Record<string, any>, Record<string, any>];
  assert.equal(job.kind, 'Job');
  assert.equal(job.spec.completionMode, 'Indexed');
  const container = job.spec.template.spec.containers[0];
  const shardsEnv = container.env.find((e: { name: string }) => e.name === 'SHARDS');
  assert.equal(shardsEnv.value, String(job.spec.completions), 'SHARDS equals completions');
  assert.equal(job.spec.template.spec.restartPolicy, 'Never', 'a pod failure policy needs restartPolicy Never');
  assert.deepEqual(job.spec.podFailurePolicy.rules[0].onExitCodes.values, [1, 2, 3], "compress's own verdicts are not retried");
  assert.equal(job.spec.podFailurePolicy.rules[0].onExitCodes.containerName, container.name);
  const [line, ...rest] = compressLines(container.args.join('\n'));
  assert.equal(rest.length, 0);
  assert.match(line!, /--shard \$\(\(JOB_COMPLETION_INDEX \+ 1\)\)\/\$SHARDS/);
  const [merge] = compressLines(mergeJob.spec.template.spec.containers[0].args.join('\n'));
  assert.match(merge!, /^compress report --merge /);

  const dir = checkout('k8s');
  for (const index of ['0', '1']) {
    const r = sh(line!, dir, { JOB_COMPLETION_INDEX: index, SHARDS: '2' });
    assert.equal(r.status, 0, r.stderr);
  }
  const m = sh(merge!, dir);
  assert.equal(m.status, 0, m.stderr);
  checkMerged(dir, 'summary.json');
  const ref = checkout('k8s-reference');
  const r = sh(line!, ref, { JOB_COMPLETION_INDEX: '0', SHARDS: '1' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(modelFiles(join(dir, 'out')), modelFiles(join(ref, 'out')), 'byte-identical to one unsharded run, at the same paths');
});
