/**
 * `npm run bench:llm`: `compress quantize --bits 4` with default flags against onnxruntime's
 * MatMulNBitsQuantizer (its command line: block 32, symmetric, accuracy level as it defaults) on
 * Llama-shaped decoders exported as users' exporters make them (bench/make_llm.py), in one run
 * (issue 14, item 4).
 *
 * For each model: wall seconds (ours: node start-up, load, quantize, save, its onnxruntime check and the
 * report; theirs: python start-up, load, quantize, save), the peak memory of each whole process tree
 * (resident sets of the process and every descendant summed, sampled from /proc every 50 ms:
 * bench/proctree.ts) and output bytes (model and external data), with the ratios ours/theirs. A run that
 * fails or is killed (the OOM killer) is a row of the table, not a crash of the benchmark.
 *
 * On the small Llamas trained briefly (`small-fp32`, `small-fp16`: the same weights, make_llm.py
 * --train), int4 perplexity on their held-out rows (test.npy) for both at block 32, plus ours at its
 * defaults and at exactly their settings; every output is scored by the same evaluator (onnxruntime-node).
 *
 * Models live in --dir (default $COMPRESS_LLM_DIR, else .cache/llm) as <dir>/<shape>-<dtype>/model.onnx
 * (+ model.onnx.data); a missing one is made with bench/make_llm.py in the venv of bench/peers-venv.sh
 * (`small-*` trained for 400 steps, both types from one training; the others with random weights).
 *
 * Options: --models small-fp32,small-fp16,tinyllama-fp32,llama3b-fp16 (the default; any <shape>-<dtype>
 * of make_llm.py, e.g. tiny-fp16, tinyllama4-fp32); --dir <dir>; --python <path> (or PEERS_PYTHON);
 * --ours-only; --no-make (skip missing models instead of making them); --timeout <s> per run (3600);
 * --keep (keep the outputs, in <dir>/bench-out/<pid>: a folder per run, so two runs never share one); --json (the
 * results as JSON instead of the tables); --save <file> (also write the JSON there); --from <file> (print a saved run).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readNpy } from '../src/calibration/readers/npy.js';
import { accumulatePerplexity, createPerplexity, solvePerplexity } from '../src/report/metrics.js';
import { repoRoot } from '../test/helpers/repo.js';
import { runEach } from './peers-data.js';
import { failureLine, removeIfEmpty, runMeasured } from './proctree.js';
import { arg } from './cases.js';
import { peerPython } from './peer-python.js';
import { benchMain } from './saved.js';
import { firstLine, markdownTable, mb, ratio } from './table.js';

const argv = process.argv.slice(2);
const log = (line: string) => process.stderr.write(line + '\n');

/** Training steps of the small Llamas (a few minutes on 2 idle cores). */
const TRAIN_STEPS = 400;

/** One tool run on one model. */
export interface LlmRun {
  tool: 'ours' | 'theirs';
  /** What was asked, e.g. "defaults" or "block 32 symmetric". */
  setting: string;
  command: string;
  status: 'ok' | 'failed' | 'invalid';
  note?: string;
  seconds: number;
  peakRssBytes: number;
  bytes?: number;
  perplexity?: number;
}

interface ModelResult {
  name: string;
  dir: string;
  bytes: number;
  params?: number;
  floatPerplexity?: number;
  runs: LlmRun[];
}

/** Everything one run of the benchmark measured (what --json prints and --save writes; --from reads it back). */
export interface LlmSummary {
  date: string;
  minutes: number;
  loadAverage: { before: number[]; after: number[] };
  python: string | null;
  models: ModelResult[];
}

/** Bytes of a model folder's model.onnx and its external data. */
function modelBytes(dir: string): number {
  let sum = 0;
  for (const f of readdirSync(dir)) if (f.startsWith('model.onnx') && !f.endsWith('.report.json')) sum += statSync(join(dir, f)).size;
  return sum;
}

/** Makes <dir>/<name> with bench/make_llm.py; returns false (with a line said) when it cannot. */
function makeModel(root: string, python: string | undefined, dir: string, name: string): boolean {
  const dash = name.lastIndexOf('-');
  const shape = name.slice(0, dash);
  const dtype = name.slice(dash + 1);
  if (!python) {
    log(`${name}: missing from ${dir} and there is no python to make it (bench/make_llm.py); skipped`);
    return false;
  }
  const args = shape === 'small'
    ? ['--shape', 'small', '--dtype', 'fp32,fp16', '--train', String(TRAIN_STEPS), '--test-rows', '256', '--out', join(dir, 'small-{dtype}')]
    : ['--shape', shape, '--dtype', dtype, '--out', join(dir, name)];
  log(`${name}: making it: python bench/make_llm.py ${args.join(' ')}`);
  const r = spawnSync(python, [join(root, 'bench', 'make_llm.py'), ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] });
  if (r.status !== 0 || !existsSync(join(dir, name, 'model.onnx'))) {
    log(`${name}: bench/make_llm.py failed (${(r.stderr ?? '').trim().split('\n').pop() ?? `exit ${r.status}`}); skipped`);
    return false;
  }
  return true;
}

/** Perplexity of a model on token rows [n, seq] in onnxruntime-node (logits float32 or float16). */
async function perplexityOf(path: string, testPath: string): Promise<number> {
  const test = readNpy(testPath);
  const ids = test.data as BigInt64Array;
  const [n, seq] = test.shape as [number, number];
  const batch = 16;
  const feeds = function* () {
    for (let s = 0; s < n; s += batch) {
      const e = Math.min(n, s + batch);
      yield { input_ids: new ort.Tensor('int64', ids.subarray(s * seq, e * seq), [e - s, seq]) };
    }
  };
  const st = createPerplexity();
  await runEach(path, feeds(), (o, b) => {
    const rowsIn = o.dims[0]!;
    accumulatePerplexity(st, o.data, ids.subarray(b * batch * seq, (b * batch + rowsIn) * seq), rowsIn, o.dims[1]!, o.dims[2]!);
  });
  return solvePerplexity(st)!;
}

/** Loads an output in onnxruntime-node and runs 2 x 8 tokens; throws when onnxruntime refuses it. */
async function smoke(path: string): Promise<void> {
  const ids = new ort.Tensor('int64', BigInt64Array.from({ length: 16 }, (_, i) => BigInt((i * 7) % 100)), [2, 8]);
  await runEach(path, [{ input_ids: ids }], () => undefined);
}

/** One run to measure: the command, where it writes, and how to check its output. */
interface RunSpec {
  tool: LlmRun['tool'];
  setting: string;
  /** The command as shown in the table's notes. */
  command: string;
  exec: [string, string[]];
  outDir: string;
  /** Held-out token rows to score perplexity on; without them the output is only loaded and run (when `check`). */
  test?: string;
  check: boolean;
  /** The input model's bytes: an output nearly as big quantized nothing. */
  inputBytes: number;
}

async function measureRun(root: string, spec: RunSpec, timeoutSeconds: number): Promise<LlmRun> {
  rmSync(spec.outDir, { recursive: true, force: true });
  mkdirSync(spec.outDir, { recursive: true });
  const out = join(spec.outDir, 'model.onnx');
  const m = await runMeasured(spec.exec[0], spec.exec[1], { cwd: root, timeoutSeconds });
  const base = { tool: spec.tool, setting: spec.setting, command: spec.command, seconds: m.seconds, peakRssBytes: m.peakRss };
  if (m.code !== 0) return { ...base, status: 'failed', note: failureLine(m) };
  if (!existsSync(out)) return { ...base, status: 'failed', note: 'exit 0 but no output' };
  const bytes = modelBytes(spec.outDir);
  const note = bytes >= 0.95 * spec.inputBytes ? 'output >= 0.95x the model: little or nothing quantized' : undefined;
  try {
    if (spec.test) return { ...base, status: 'ok', bytes, note, perplexity: await perplexityOf(out, spec.test) };
    if (spec.check) await smoke(out);
    return { ...base, status: 'ok', bytes, note };
  } catch (e) {
    return { ...base, status: 'invalid', bytes, note: `onnxruntime refuses the output: ${firstLine(e)}` };
  }
}

/** Runs both tools on every wanted model. */
async function run(): Promise<LlmSummary> {
  const root = repoRoot();
  const dir = resolve(arg('--dir', process.env.COMPRESS_LLM_DIR ?? join(root, '.cache', 'llm')));
  const names = arg('--models', 'small-fp32,small-fp16,tinyllama-fp32,llama3b-fp16').split(',');
  for (const n of names) if (!/^[a-z0-9]+-(fp32|fp16|bf16)$/.test(n)) throw new Error(`--models: '${n}' is not <shape>-<fp32|fp16|bf16>`);
  const timeoutSeconds = Number(arg('--timeout', '3600'));
  const oursOnly = argv.includes('--ours-only');
  const missing = names.filter((n) => !existsSync(join(dir, n, 'model.onnx')));
  const needPython = !oursOnly || (missing.length > 0 && !argv.includes('--no-make'));
  const python = needPython ? peerPython(root, arg('--python', process.env.PEERS_PYTHON ?? ''), log) : undefined;
  mkdirSync(dir, { recursive: true });
  const work = join(dir, 'bench-out', String(process.pid));
  const load0 = loadavg();
  const t0 = Date.now();
  const results: ModelResult[] = [];
  try {
    for (const name of names) {
      const mdir = join(dir, name);
      if (!existsSync(join(mdir, 'model.onnx')) && (argv.includes('--no-make') || !makeModel(root, python, dir, name))) continue;
      const path = join(mdir, 'model.onnx');
      const info = existsSync(join(mdir, 'info.json')) ? (JSON.parse(readFileSync(join(mdir, 'info.json'), 'utf8')) as { params?: number }) : {};
      const testPath = join(mdir, 'test.npy');
      const test = existsSync(testPath) ? testPath : undefined;
      const res: ModelResult = { name, dir: mdir, bytes: modelBytes(mdir), params: info.params, runs: [] };
      if (test) res.floatPerplexity = await perplexityOf(path, test);
      log(`${name}: ${mb(res.bytes)} MB${res.floatPerplexity !== undefined ? `, float perplexity ${res.floatPerplexity.toFixed(3)}` : ''}`);
      const ours = (setting: string, extra: string[]) => {
        const outDir = join(work, `${name}-ours-${res.runs.length}`);
        const args = ['quantize', path, '--bits', '4', ...extra, '-o', join(outDir, 'model.onnx'), '--quiet'];
        const command = `compress quantize model.onnx --bits 4 ${extra.join(' ')} -o out.onnx --quiet`.replace(/ +/g, ' ');
        return measureRun(root, { tool: 'ours', setting, command, exec: [process.execPath, [join(root, 'bin', 'compress.js'), ...args]], outDir, test, check: false, inputBytes: res.bytes }, timeoutSeconds);
      };
      const theirs = (setting: string, extra: string[]) => {
        const outDir = join(work, `${name}-theirs-${res.runs.length}`);
        const args = ['-m', 'onnxruntime.quantization.matmul_nbits_quantizer', '--input_model', path, '--output_model', join(outDir, 'model.onnx'), ...extra];
        const command = `python -m onnxruntime.quantization.matmul_nbits_quantizer --input_model model.onnx --output_model out.onnx ${extra.join(' ')}`.trim();
        return measureRun(root, { tool: 'theirs', setting, command, exec: [python!, args], outDir, test, check: !argv.includes('--no-check'), inputBytes: res.bytes }, timeoutSeconds);
      };
      const runs: [() => Promise<LlmRun>, boolean][] = [
        [() => ours('defaults (g128 asymmetric; head and embeddings 8-bit)', []), true],
        [() => theirs('defaults (block 32 symmetric)', []), !!python && !oursOnly],
      ];
      if (test) {
        runs.push([() => ours('block 32 (head and embeddings 8-bit)', ['--group-size', '32']), true]);
        runs.push([() => ours('block 32 symmetric, every MatMul (their settings)', ['--group-size', '32', '--symmetric', '--ops', 'MatMul', '--no-keep-sensitive']), true]);
      }
      for (const [run, wanted] of runs) {
        if (!wanted) continue;
        const r = await run();
        res.runs.push(r);
        log(
          `${name} ${r.tool} ${r.setting}: ` +
            (r.status === 'ok'
              ? `${r.seconds.toFixed(1)} s, peak ${(r.peakRssBytes / 1e9).toFixed(2)} GB, ${mb(r.bytes!)} MB` + (r.perplexity !== undefined ? `, perplexity ${r.perplexity.toFixed(3)}` : '')
              : `${r.status}: ${r.note}`),
        );
      }
      results.push(res);
    }
  } finally {
    if (!argv.includes('--keep')) {
      rmSync(work, { recursive: true, force: true });
      removeIfEmpty(join(dir, 'bench-out'));
    }
  }
  const load1 = loadavg();
  const summary: LlmSummary = {
    date: new Date().toISOString(),
    minutes: (Date.now() - t0) / 60000,
    loadAverage: { before: load0.map((l) => Number(l.toFixed(2))), after: load1.map((l) => Number(l.toFixed(2))) },
    python: python ?? null,
    models: results,
  };
  return summary;
}

/** The tables (speed and memory; perplexity where the models have held-out rows) and their notes. */
export function render(summary: LlmSummary): string {
  const gb = (b: number) => (b / 1e9).toFixed(2);
  const sizeCell = (r: LlmRun) => mb(r.bytes!) + (r.note ? ` (${r.note})` : '');
  const cell = (r: LlmRun | undefined, f: (r: LlmRun) => string) => (r === undefined ? 'not run' : r.status === 'ok' ? f(r) : `**${r.status}**: ${r.note}`);
  const speed = summary.models.map((m) => {
    const o = m.runs.find((r) => r.tool === 'ours');
    const t = m.runs.find((r) => r.tool === 'theirs');
    const both = o?.status === 'ok' && t?.status === 'ok';
    return [
      m.name,
      mb(m.bytes),
      cell(o, (r) => r.seconds.toFixed(1)),
      cell(t, (r) => r.seconds.toFixed(1)),
      o && t ? ratio(o.seconds, t.seconds) : '',
      o ? `${gb(o.peakRssBytes)} (${(o.peakRssBytes / m.bytes).toFixed(2)}x)` : '',
      t ? `${gb(t.peakRssBytes)} (${(t.peakRssBytes / m.bytes).toFixed(2)}x)` : '',
      o && t ? ratio(o.peakRssBytes, t.peakRssBytes) : '',
      cell(o, sizeCell),
      cell(t, sizeCell),
      both ? ratio(o.bytes, t.bytes) : '',
    ];
  });
  const lines: string[] = [];
  lines.push(
    markdownTable(
      ['model', 'model MB', 'ours: s', 'theirs: s', 'time ours/theirs', 'ours: peak GB (x model)', 'theirs: peak GB (x model)', 'memory ours/theirs', 'ours: MB', 'theirs: MB', 'bytes ours/theirs'],
      speed,
    ),
  );
  const withPpl = summary.models.filter((m) => m.floatPerplexity !== undefined);
  if (withPpl.length > 0) {
    lines.push('');
    const rowsP: string[][] = [];
    for (const m of withPpl) {
      rowsP.push([m.name, 'float', '', mb(m.bytes), m.floatPerplexity!.toFixed(3)]);
      for (const r of m.runs) rowsP.push([m.name, r.tool, r.setting, cell(r, sizeCell), cell(r, (x) => x.perplexity!.toFixed(3))]);
    }
    lines.push(markdownTable(['model', 'tool', 'setting', 'MB', 'perplexity'], rowsP));
  }
  lines.push('');
  lines.push('Commands (model.onnx and out.onnx stand for the paths):');
  const seen = new Set<string>();
  for (const m of summary.models) for (const r of m.runs) if (!seen.has(r.command)) {
    seen.add(r.command);
    lines.push(`- ${r.tool}, ${r.setting}: \`${r.command}\``);
  }
  lines.push('');
  lines.push(
    'Wall seconds from process start to exit: ours includes node start-up, load, quantize, save, the onnxruntime check and the report; theirs python start-up, load, quantize and save. ' +
      "Peak GB: the summed resident set of each tool's whole process tree, sampled every 50 ms. Perplexity: onnxruntime-node on the model's held-out rows (test.npy), the same evaluator for both.",
  );
  lines.push(`Run ${summary.date}, ${summary.minutes.toFixed(1)} min; 1/5/15-minute load average ${summary.loadAverage.before.join(' / ')} before, ${summary.loadAverage.after.join(' / ')} after.`);
  return lines.join('\n') + '\n';
}

benchMain('bench:llm', run, render);
