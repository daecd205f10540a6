/**
 * `npm run bench:peers`: our `compress quantize` / `compress gptq` against onnxruntime's own python
 * quantization tools (quantize_static, quantize_dynamic, MatMulNBitsQuantizer with its default RTN and
 * with HQQ), on the same models and the same calibration files, in one run (issue 15, item 4).
 *
 * Each tool runs as its own process, as a user would run it: ours is `node bin/compress.js ...` (node
 * start-up, load, quantize, save, its onnxruntime check and report), theirs `python bench/peers.py ...`
 * or their command line `python -m onnxruntime.quantization.matmul_nbits_quantizer` (python start-up,
 * load, quantize, save). Wall seconds and the peak memory of each process tree are measured from outside
 * (bench/proctree.ts). Every output, ours and theirs, is then loaded and scored by the same evaluator in
 * onnxruntime-node (bench/peers-data.ts); an output onnxruntime refuses is reported as invalid, a tool
 * that exits non-zero or is killed as failed, in the table, never as a crash of the benchmark.
 *
 * Each method is compared twice where it makes sense: at equal settings (granularity, symmetry, block
 * size, which op types), where their side first runs the pre-processing their documentation recommends
 * (quant_pre_process, and opset 13 for per-channel QDQ: bench/peers.py --preprocess), and with each tool
 * at its own defaults on the model as it is.
 *
 * The python side is the venv of bench/peers-venv.sh (made on first use); where python3 or the package
 * index is missing, one line says so and only our side runs.
 *
 * Options: --models mlp,cnn,lm,ppocr-rec,ppocr-cls,ppocr-det,silero (default all); --methods <keys> (default all,
 * see `methods` below); --python <path> (or PEERS_PYTHON: a python with onnxruntime 1.30, skipping the
 * venv script); --ours-only; --timeout <s> per run (1800); --work <dir> (default .cache/bench-peers/<pid>, a folder per run,
 * emptied first and removed at the end unless --keep); --json (the results as JSON on stdout instead of
 * the table); --save <file> (also write the JSON there); --from <file>[,<file>...] (print the table of a saved
 * run; the rows of each later file replace those of the same model and method: `overlay`).
 */
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../test/helpers/repo.js';
import { modelKeys, prepare, type Workload } from './peers-data.js';
import { failureLine, lastMeaningfulLine, removeIfEmpty, runMeasured, type Measured } from './proctree.js';
import { arg } from './cases.js';
import { peerPython } from './peer-python.js';
import { benchMain } from './saved.js';
import { firstLine, markdownTable, mb, ratio } from './table.js';

const argv = process.argv.slice(2);
const log = (line: string) => process.stderr.write(line + '\n');

/** The result of one tool run, scored. */
export interface RunResult {
  /** ok: a valid output was scored; failed: the tool exited non-zero or was killed; invalid: onnxruntime refused its output. */
  status: 'ok' | 'failed' | 'invalid' | 'skipped';
  /** The command, as run. */
  command: string;
  seconds?: number;
  /** Of `seconds`, the pre-processing their side ran first (bench/peers.py --preprocess). */
  preSeconds?: number;
  peakRssBytes?: number;
  bytes?: number;
  metric?: number;
  /** The metric as printed. */
  metricText?: string;
  /** Why it failed, or a remark (e.g. nothing was quantized). */
  note?: string;
}

/** One comparison: a method of ours against the matching one of theirs. */
interface Method {
  key: string;
  title: string;
  /** Needs calibration data. */
  calib?: boolean;
  /** Only on models with MatMul weights (MatMulNBitsQuantizer quantizes nothing else). */
  matmul?: boolean;
  ours(w: Workload): string[];
  /** Their command after the python interpreter, writing `out`. */
  theirs(w: Workload, out: string): string[];
}

const STATIC_OPS = 'MatMul,Gemm,Conv';
/** Their MatMulNBitsQuantizer command line as a user runs it (the defaults rows). */
const nbitsCli = (w: Workload, out: string) => ['-m', 'onnxruntime.quantization.matmul_nbits_quantizer', '--input_model', w.path, '--output_model', out];
/** The same command line after their recommended pre-processing (the equal-settings rows). */
const nbitsPre = (w: Workload, out: string, extra: string[]) => ['bench/peers.py', '--preprocess', 'nbits', w.path, out, ...extra];
const bs = (w: Workload) => String(w.batchSize);
/** Their calibration reader's batching: batches of the first axis, or one whole feed per sample. */
const theirBatch = (w: Workload) => (w.perSample ? ['--per-sample'] : ['--batch-size', bs(w)]);

/** Every comparison, in table order. */
export const methods: Method[] = [
  {
    key: 'static-default',
    title: 'static int8, each tool at its defaults',
    calib: true,
    ours: (w) => ['quantize', w.path, '--data', w.calib!, '--batch-size', bs(w)],
    theirs: (w, out) => ['bench/peers.py', 'static', w.path, out, '--calib', w.calib!, ...theirBatch(w)],
  },
  ...(['minmax', 'percentile', 'entropy'] as const).map<Method>((m) => ({
    key: `static-${m}`,
    title: `static int8 ${m}${m === 'percentile' ? ' 99.99' : ''}: per-channel int8 weights, uint8 activations, ${STATIC_OPS}`,
    calib: true,
    ours: (w) => ['quantize', w.path, '--data', w.calib!, '--batch-size', bs(w), '--calibration', m, ...(m === 'percentile' ? ['--percentile', '99.99'] : []), '--ops', STATIC_OPS],
    theirs: (w, out) => [
      'bench/peers.py', '--preprocess', 'static', w.path, out, '--calib', w.calib!, ...theirBatch(w), '--method', m, ...(m === 'percentile' ? ['--percentile', '99.99'] : []),
      '--per-channel', '--activation', 'quint8', '--ops', STATIC_OPS,
    ],
  })),
  {
    key: 'dynamic-default',
    title: 'dynamic int8, each tool at its defaults',
    ours: (w) => ['quantize', w.path, '--dynamic'],
    theirs: (w, out) => ['bench/peers.py', 'dynamic', w.path, out],
  },
  {
    key: 'dynamic',
    title: 'dynamic int8: per-channel weights, MatMul,Gemm',
    ours: (w) => ['quantize', w.path, '--dynamic', '--ops', 'MatMul,Gemm'],
    theirs: (w, out) => ['bench/peers.py', '--preprocess', 'dynamic', w.path, out, '--per-channel', '--ops', 'MatMul,Gemm'],
  },
  {
    key: 'int4-default',
    title: 'int4 weight-only, each tool at its defaults (ours: g128 asymmetric, head/embeddings/Convs 8-bit; theirs: MatMul only, block 32 symmetric)',
    ours: (w) => ['quantize', w.path, '--bits', '4'],
    theirs: nbitsCli,
  },
  {
    key: 'int4-rtn',
    title: 'int4 RTN: block 32, symmetric, every MatMul (head included)',
    matmul: true,
    ours: (w) => ['quantize', w.path, '--bits', '4', '--group-size', '32', '--symmetric', '--ops', 'MatMul', '--no-keep-sensitive'],
    theirs: (w, out) => nbitsPre(w, out, ['--block_size', '32', '--symmetric', 'True']),
  },
  {
    key: 'int4-hqq',
    title: 'int4 block 32 asymmetric, every MatMul: our RTN against their HQQ',
    matmul: true,
    ours: (w) => ['quantize', w.path, '--bits', '4', '--group-size', '32', '--asymmetric', '--ops', 'MatMul', '--no-keep-sensitive'],
    theirs: (w, out) => nbitsPre(w, out, ['--quant_method', 'hqq', '--block_size', '32']),
  },
  {
    key: 'gptq',
    title: 'our GPTQ against their RTN: block 32, symmetric',
    calib: true,
    matmul: true,
    ours: (w) => ['gptq', w.path, '--data', w.calib!, '--batch-size', bs(w), '--group-size', '32', '--symmetric'],
    theirs: (w, out) => nbitsPre(w, out, ['--block_size', '32', '--symmetric', 'True']),
  },
  {
    key: 'gptq-default',
    title: 'our GPTQ at its defaults (g128 asymmetric) against their RTN at its defaults',
    calib: true,
    ours: (w) => ['gptq', w.path, '--data', w.calib!, '--batch-size', bs(w)],
    theirs: nbitsCli,
  },
];

/** Bytes of every file in `dir` but reports (a model and its external data). */
function outputBytes(dir: string): number {
  let sum = 0;
  for (const f of readdirSync(dir)) if (!f.endsWith('.report.json')) sum += statSync(join(dir, f)).size;
  return sum;
}

/** Scores a finished run's output, or says why it has none. */
async function score(w: Workload, m: Measured, dir: string, out: string, command: string): Promise<RunResult> {
  const pre = /peers: pre-processing took ([\d.]+) s/.exec(m.stderr);
  const base = { command, seconds: m.seconds, preSeconds: pre ? Number(pre[1]) : undefined, peakRssBytes: m.peakRss };
  if (m.code !== 0) return { ...base, status: 'failed', note: failureLine(m) };
  let files: string[] = [];
  try {
    files = readdirSync(dir);
  } catch {
    // No folder: no output.
  }
  if (!files.some((f) => join(dir, f) === out)) return { ...base, status: 'failed', note: `exit 0 but no output (${lastMeaningfulLine(m.stderr) || 'nothing said'})` };
  const bytes = outputBytes(dir);
  const notes: string[] = [];
  const preFailed = /peers: quant_pre_process failed \((.*?)\); going on/.exec(m.stderr);
  if (preFailed) notes.push(`quant_pre_process failed (${preFailed[1]})`);
  if (bytes >= 0.95 * statSync(w.path).size) notes.push('>= 0.95x the input: next to nothing quantized');
  const note = notes.length > 0 ? notes.join('; ') : undefined;
  try {
    const metric = await w.evaluate(out);
    return { ...base, status: 'ok', bytes, metric, metricText: w.metric.format(metric), note };
  } catch (e) {
    return { ...base, status: 'invalid', bytes, note: [`onnxruntime refuses the output: ${firstLine(e)}`, ...notes].join('; ') };
  }
}

interface Row {
  model: string;
  method: string;
  title: string;
  ours: RunResult;
  theirs: RunResult;
}

/** A cell: the metric, or what went wrong. */
function metricCell(r: RunResult): string {
  if (r.status === 'ok') return r.metricText! + (r.note ? ` (${r.note})` : '');
  if (r.status === 'skipped') return r.note ?? 'skipped';
  return `**${r.status}**: ${r.note ?? ''}`;
}

/** Everything one run of the benchmark measured (what --json prints and --save writes; --from reads it back). */
export interface PeersResult {
  date: string;
  minutes: number;
  loadAverage: { before: number[]; after: number[] };
  python: string | null;
  /** The float models: bytes, metric (name, value, as printed) and the data behind it. */
  floats: Record<string, { bytes: number; metricName: string; metric: number; metricText: string; data: string }>;
  /** Method key -> what it compares. */
  methods: Record<string, string>;
  rows: Row[];
  /** Later runs whose rows replaced or joined these (see `overlay`): when, and which rows. */
  later?: { date: string; minutes: number; loadAverage: { before: number[]; after: number[] }; rows: string[] }[];
}

/**
 * `base` with the rows of `later` (a run of some models and methods, e.g. after a fix) in place of its
 * rows of the same model and method, or added; the table then says which rows came from which run.
 */
export function overlay(base: PeersResult, later: PeersResult): PeersResult {
  const rows = [...base.rows];
  for (const r of later.rows) {
    const i = rows.findIndex((x) => x.model === r.model && x.method === r.method);
    if (i >= 0) rows[i] = r;
    else rows.push(r);
  }
  const mark = { date: later.date, minutes: later.minutes, loadAverage: later.loadAverage, rows: later.rows.map((r) => `${r.model} ${r.method}`) };
  return {
    ...base,
    floats: { ...base.floats, ...later.floats },
    methods: { ...base.methods, ...later.methods },
    rows,
    later: [...(base.later ?? []), ...(later.later ?? []), mark],
  };
}

/** The markdown table and its notes. */
export function render(result: PeersResult): string {
  const table = result.rows.map((r) => {
    const f = result.floats[r.model]!;
    const ok = r.ours.status === 'ok' && r.theirs.status === 'ok';
    const sec = (x: RunResult) => (x.seconds === undefined ? '' : x.seconds.toFixed(1) + (x.preSeconds !== undefined ? ` (pre-processing ${x.preSeconds.toFixed(1)})` : ''));
    const size = (x: RunResult) => (x.bytes === undefined ? '' : `${mb(x.bytes)} (${(x.bytes / f.bytes).toFixed(3)}x)`);
    const rss = (x: RunResult) => (x.peakRssBytes ? String(Math.round(x.peakRssBytes / 1e6)) : '');
    return [
      r.model,
      r.method,
      size(r.ours),
      metricCell(r.ours),
      sec(r.ours),
      rss(r.ours),
      size(r.theirs),
      metricCell(r.theirs),
      sec(r.theirs),
      rss(r.theirs),
      ok ? ratio(r.ours.bytes!, r.theirs.bytes!) : '',
      r.ours.seconds !== undefined && r.theirs.seconds !== undefined ? ratio(r.ours.seconds, r.theirs.seconds) : '',
    ];
  });
  const out: string[] = [];
  out.push(
    markdownTable(
      ['model', 'method', 'ours: MB (x float)', 'ours: quality', 'ours: s', 'ours: peak MB', 'theirs: MB (x float)', 'theirs: quality', 'theirs: s', 'theirs: peak MB', 'bytes ours/theirs', 'time ours/theirs'],
      table,
    ),
  );
  out.push('');
  out.push('Float models (quality metric; data):');
  for (const [k, f] of Object.entries(result.floats)) out.push(`- ${k}: ${mb(f.bytes)} MB, ${f.metricName} ${f.metricText}; ${f.data}`);
  out.push('');
  out.push('Methods (ours = compress ..., theirs = onnxruntime 1.30 python tools):');
  for (const [k, title] of Object.entries(result.methods)) out.push(`- ${k}: ${title}`);
  out.push('');
  out.push(
    'Rows named "-default" run each tool at its own defaults on the model as it is; the other rows use equal settings, and their side first runs the ' +
      'pre-processing its documentation recommends (quant_pre_process; then Constants made initializers and opset 13 where lower), counted in its time and shown in brackets.',
  );
  out.push(
    'Wall seconds from process start to exit: ours includes node start-up, load, quantize, save, the onnxruntime check and the report; ' +
      "theirs python start-up, load, quantize and save. Peak MB: the summed resident set of each tool's process tree, sampled every 50 ms. " +
      'Every output is scored by the same evaluator (onnxruntime-node 1.30, its default graph optimizations, one thread).',
  );
  out.push(
    `Run ${result.date}, ${result.minutes.toFixed(1)} min; 1/5/15-minute load average ${result.loadAverage.before.join(' / ')} before, ${result.loadAverage.after.join(' / ')} after.`,
  );
  for (const l of result.later ?? []) {
    out.push(
      `Rows ${l.rows.join(', ')}: run ${l.date}, ${l.minutes.toFixed(1)} min; load average ${l.loadAverage.before.join(' / ')} before, ${l.loadAverage.after.join(' / ')} after.`,
    );
  }
  return out.join('\n') + '\n';
}

/** Runs every wanted method on every wanted model. */
async function run(): Promise<PeersResult> {
  const root = repoRoot();
  const keys = arg('--models', modelKeys.join(',')).split(',');
  const wanted = arg('--methods', methods.map((m) => m.key).join(',')).split(',');
  for (const k of wanted) if (!methods.some((m) => m.key === k)) throw new Error(`unknown method '${k}': expected some of ${methods.map((m) => m.key).join(', ')}`);
  const timeoutSeconds = Number(arg('--timeout', '1800'));
  const work = arg('--work', join(root, '.cache', 'bench-peers', String(process.pid)));
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const python = argv.includes('--ours-only') ? undefined : peerPython(root, arg('--python', process.env.PEERS_PYTHON ?? ''), log);
  const load0 = loadavg();
  const t0 = Date.now();
  const rows: Row[] = [];
  const floats: PeersResult['floats'] = {};
  let runIndex = 0;
  // Their runs are keyed by command: the same command (e.g. their RTN against our RTN and our GPTQ) runs once.
  const theirCache = new Map<string, RunResult>();
  try {
    for (const key of keys) {
      let w: Workload;
      try {
        w = await prepare(root, work, key);
      } catch (e) {
        log(`${key}: skipped: ${firstLine(e)}`);
        continue;
      }
      const floatMetric = await w.evaluate(w.path);
      floats[key] = { bytes: statSync(w.path).size, metricName: w.metric.name, metric: floatMetric, metricText: w.metric.format(floatMetric), data: w.data };
      log(`${key}: float ${w.metric.name} ${w.metric.format(floatMetric)}, ${mb(statSync(w.path).size)} MB`);
      for (const m of methods) {
        if (!wanted.includes(m.key) || (m.calib && !w.calib) || (m.matmul && !w.matmulWeights)) continue;
        const dirOurs = join(work, `${runIndex++}-ours`);
        mkdirSync(dirOurs);
        const outOurs = join(dirOurs, 'model.onnx');
        const oursArgs = [...m.ours(w), '-o', outOurs, '--quiet'];
        const oursCommand = `compress ${oursArgs.join(' ')}`;
        const mo = await runMeasured(process.execPath, [join(root, 'bin', 'compress.js'), ...oursArgs], { cwd: root, timeoutSeconds });
        const ours = await score(w, mo, dirOurs, outOurs, oursCommand);
        let theirs: RunResult;
        if (!python) theirs = { status: 'skipped', command: '', note: 'no python side' };
        else {
          const probe = m.theirs(w, '<out>').join(' ');
          const cached = theirCache.get(probe);
          if (cached) theirs = cached;
          else {
            const dirTheirs = join(work, `${runIndex++}-theirs`);
            mkdirSync(dirTheirs);
            const outTheirs = join(dirTheirs, 'model.onnx');
            const theirArgs = m.theirs(w, outTheirs);
            const mt = await runMeasured(python, theirArgs, { cwd: root, timeoutSeconds });
            theirs = await score(w, mt, dirTheirs, outTheirs, `python ${probe}`);
            theirCache.set(probe, theirs);
          }
        }
        rows.push({ model: key, method: m.key, title: m.title, ours, theirs });
        const brief = (r: RunResult) => (r.status === 'ok' ? `${r.metricText}, ${mb(r.bytes!)} MB, ${r.seconds!.toFixed(1)} s` : `${r.status}: ${r.note}`);
        log(`${key} ${m.key}: ours ${brief(ours)} | theirs ${brief(theirs)}`);
      }
    }
  } finally {
    if (!argv.includes('--keep')) {
      rmSync(work, { recursive: true, force: true });
      removeIfEmpty(join(root, '.cache', 'bench-peers'));
    }
  }
  const load1 = loadavg();
  const result: PeersResult = {
    date: new Date().toISOString(),
    minutes: (Date.now() - t0) / 60000,
    loadAverage: { before: load0.map((l) => Number(l.toFixed(2))), after: load1.map((l) => Number(l.toFixed(2))) },
    python: python ?? null,
    floats,
    methods: Object.fromEntries(methods.filter((m) => wanted.includes(m.key)).map((m) => [m.key, m.title])),
    rows,
  };
  return result;
}

benchMain('bench:peers', run, render, overlay);
