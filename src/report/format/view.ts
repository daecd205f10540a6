/**
 * What a human reads from a report, independent of the medium: a title, sections of rows, and notes.
 * table.ts (terminal), markdown.ts and html.ts render the same view, so the three never disagree.
 */
import type { ModelSummary, Report } from '../schema.js';
import type { IoInfo, TensorInfo } from '../structure.js';

/** Column alignment. */
export type Align = 'left' | 'right';

/** A titled block of rows. */
export interface Section {
  title: string;
  /** Column headings (none for key/value sections). */
  header?: string[];
  rows: string[][];
  align: Align[];
}

/** The whole human view of a report. */
export interface ReportView {
  title: string;
  sections: Section[];
  notes: string[];
}

/** Most per-layer rows a view lists (the JSON has them all). */
export const maxLayerRows = 60;

/** 941410 -> "941,410". */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Bytes with a binary-unit reading: "941,410 (919.3 KiB)". */
export function bytes(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u < 0 ? `${int(n)} B` : `${int(n)} (${v.toFixed(1)} ${units[u]})`;
}

function pct(x: number | undefined): string {
  return x === undefined ? '-' : `${(x * 100).toFixed(2)}%`;
}

function bitsText(x: number | undefined): string {
  return x === undefined || x === 0 ? '-' : x.toFixed(2);
}

function signed(n: number): string {
  return n > 0 ? `+${int(n)}` : int(n);
}

function opsetsText(s: ModelSummary): string {
  const opsets = (s.opsets as { domain: string; version: number }[] | undefined) ?? [];
  return [`IR ${String(s.irVersion ?? '?')}`, ...opsets.map((o) => `${o.domain} ${o.version}`)].join(', ');
}

function ioText(list: unknown): string {
  return ((list as IoInfo[] | undefined) ?? []).map((v) => `${v.name} ${v.dataType} [${(v.shape ?? ['?']).join(', ')}]`).join('; ') || '-';
}

function shapeText(dims: number[]): string {
  return dims.length === 0 ? 'scalar' : dims.join('x');
}

function byType(s: ModelSummary): Record<string, number> {
  return (s.bytesByDataType as Record<string, number> | undefined) ?? {};
}

function tensorsSection(title: string, s: ModelSummary): Section {
  const list = (s.largestTensors as TensorInfo[] | undefined) ?? [];
  return {
    title,
    header: ['name', 'type', 'shape', 'bytes'],
    rows: list.map((t) => [t.name, t.dataType, shapeText(t.dims), int(t.bytes)]),
    align: ['left', 'left', 'left', 'right'],
  };
}

function singleView(r: Report): ReportView {
  const s = r.original;
  const sections: Section[] = [
    {
      title: 'size',
      rows: [
        ['bytes', bytes(s.bytes)],
        ['params', int(s.params)],
        ['bits per weight', bitsText(s.bitsPerWeight)],
        ['sparsity', pct(s.sparsity)],
        ['nodes', int(Number(s.nodes ?? 0))],
        ['opsets', opsetsText(s)],
        ['inputs', ioText(s.inputs)],
        ['outputs', ioText(s.outputs)],
      ],
      align: ['left', 'left'],
    },
  ];
  const bt = byType(s);
  const total = Object.values(bt).reduce((a, b) => a + b, 0);
  sections.push({
    title: 'bytes by data type (constant tensors)',
    header: ['type', 'bytes', 'share'],
    rows: Object.entries(bt)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, int(v), total > 0 ? `${((v / total) * 100).toFixed(1)}%` : '-']),
    align: ['left', 'right', 'right'],
  });
  sections.push({
    title: `op types (${int(Number(s.nodes ?? 0))} nodes, subgraphs included)`,
    header: ['op', 'count'],
    rows: Object.entries(s.opCounts).map(([k, v]) => [k, int(v)]),
    align: ['left', 'right'],
  });
  sections.push(tensorsSection('largest tensors', s));
  return { title: `report: ${s.path ?? '(in memory)'}`, sections, notes: [] };
}

function pairView(r: Report): ReportView {
  const o = r.original;
  const c = r.compressed!;
  const ratio = c.bytes > 0 ? o.bytes / c.bytes : 0;
  const change = (a: number, b: number) => (a === 0 ? '-' : `${b - a >= 0 ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)}%`);
  const sections: Section[] = [
    {
      title: 'size',
      header: ['', 'original', 'compressed', 'change'],
      rows: [
        ['bytes', bytes(o.bytes), bytes(c.bytes), `${(r.sizeRatio ?? 0).toFixed(3)}x (${ratio.toFixed(2)}x smaller)`],
        ['params', int(o.params), int(c.params), change(o.params, c.params)],
        ['bits per weight', bitsText(o.bitsPerWeight), bitsText(c.bitsPerWeight), ''],
        ['sparsity', pct(o.sparsity), pct(c.sparsity), ''],
        ['nodes', int(Number(o.nodes ?? 0)), int(Number(c.nodes ?? 0)), signed(Number(c.nodes ?? 0) - Number(o.nodes ?? 0))],
        ['opsets', opsetsText(o), opsetsText(c), ''],
      ],
      align: ['left', 'right', 'right', 'right'],
    },
  ];
  const bo = byType(o);
  const bc = byType(c);
  const types = [...new Set([...Object.keys(bo), ...Object.keys(bc)])].sort((a, b) => (bc[b] ?? 0) + (bo[b] ?? 0) - (bc[a] ?? 0) - (bo[a] ?? 0));
  sections.push({
    title: 'bytes by data type (constant tensors)',
    header: ['type', 'original', 'compressed'],
    rows: types.map((t) => [t, int(bo[t] ?? 0), int(bc[t] ?? 0)]),
    align: ['left', 'right', 'right'],
  });
  const ops = [...new Set([...Object.keys(o.opCounts), ...Object.keys(c.opCounts)])];
  const diff = (r.opCountsDiff as Record<string, number> | undefined) ?? {};
  sections.push({
    title: 'op types (subgraphs included)',
    header: ['op', 'original', 'compressed', 'change'],
    rows: ops.map((k) => [k, int(o.opCounts[k] ?? 0), int(c.opCounts[k] ?? 0), diff[k] ? signed(diff[k]) : '']),
    align: ['left', 'right', 'right', 'right'],
  });
  sections.push(tensorsSection('largest tensors (compressed)', c));
  return { title: `report: ${o.path ?? '(in memory)'} -> ${c.path ?? '(in memory)'}`, sections, notes: [] };
}

/** The human view of a report. */
export function reportView(r: Report): ReportView {
  const view = r.compressed ? pairView(r) : singleView(r);
  if (r.fidelity) {
    const f = r.fidelity;
    view.sections.push({
      title: 'fidelity (compressed vs original outputs)',
      rows: [
        ['top-1 agreement', pct(f.top1Agreement)],
        ['KL divergence', f.kl === undefined ? '-' : f.kl.toPrecision(4)],
        ['cosine', f.cosine === undefined ? '-' : f.cosine.toFixed(6)],
        ['max abs diff', f.maxAbsDiff === undefined ? '-' : f.maxAbsDiff.toPrecision(4)],
        ['SQNR (dB)', f.sqnrDb === undefined ? '-' : f.sqnrDb.toFixed(2)],
      ],
      align: ['left', 'right'],
    });
  }
  if (r.metrics?.measured) {
    const m = r.metrics;
    const rows: string[][] = [];
    if (m.original?.accuracy !== undefined || m.compressed?.accuracy !== undefined) rows.push(['accuracy', pct(m.original?.accuracy), pct(m.compressed?.accuracy)]);
    if (m.original?.perplexity !== undefined || m.compressed?.perplexity !== undefined) {
      rows.push(['perplexity', m.original?.perplexity?.toFixed(3) ?? '-', m.compressed?.perplexity?.toFixed(3) ?? '-']);
    }
    const on = m as { samples?: number; task?: string };
    const title = on.samples !== undefined ? `task metrics (${on.task ?? 'measured'}, ${int(on.samples)} samples, onnxruntime-node)` : 'task metrics';
    if (rows.length > 0) view.sections.push({ title, header: ['', 'original', 'compressed'], rows, align: ['left', 'right', 'right'] });
    if (m.note) view.notes.push(m.note);
  } else {
    view.notes.push(r.metrics?.note ?? 'accuracy was not measured');
  }
  const layers = r.layers ?? [];
  if (layers.length > 0) {
    const shown = layers.slice(0, maxLayerRows);
    const num = (x: unknown, f: (v: number) => string) => (typeof x === 'number' && Number.isFinite(x) ? f(x) : '-');
    view.sections.push({
      title: `layers (${layers.length}${layers.length > shown.length ? `, the first ${shown.length} shown` : ''})`,
      header: ['name', 'op', 'bits', 'sparsity', 'rank', 'params', 'error'],
      rows: shown.map((l) => [l.name, l.op, num(l.bits, bitsText), num(l.sparsity, pct), num(l.rank, int), int(l.params), num(l.error, (v) => v.toPrecision(3))]),
      align: ['left', 'left', 'right', 'right', 'right', 'right', 'right'],
    });
  }
  if (r.runtime) {
    const rt = r.runtime;
    const lat = rt.latencyMs ?? {};
    const ms = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(3));
    const rows = [['loads', 'yes', rt.loaded ? 'yes' : `NO: ${rt.error ?? ''}`]];
    if (lat.original || lat.compressed) {
      rows.push(['latency p50 (ms)', ms(lat.original?.p50), ms(lat.compressed?.p50)], ['latency p95 (ms)', ms(lat.original?.p95), ms(lat.compressed?.p95)]);
    }
    const pair = r.compressed !== undefined;
    view.sections.push({
      title: `runtime (${rt.name} ${rt.version})`,
      header: pair ? ['', 'original', 'compressed'] : ['', 'model'],
      rows: pair ? rows : rows.map((row) => row.slice(0, 2)),
      align: ['left', 'right', 'right'],
    });
  }
  if (r.gates.length > 0) {
    view.sections.push({
      title: 'gates',
      header: ['gate', 'limit', 'value', 'result'],
      rows: r.gates.map((g) => [g.name, String(g.limit), g.value === null ? 'not measured' : Number.isInteger(g.value) ? int(g.value) : g.value.toPrecision(4), g.pass ? 'pass' : 'FAIL']),
      align: ['left', 'right', 'right', 'left'],
    });
  }
  // Where onnxruntime could not be the runner (bfloat16, or a reference too big to load), the note says who was.
  const reduced = (r.check as { reduced?: string } | undefined)?.reduced;
  if (reduced && !(r.warnings ?? []).some((w) => w.includes(reduced))) view.notes.push(`measured partly in compress's executor: ${reduced}`);
  for (const w of r.warnings ?? []) view.notes.push(`warning: ${w}`);
  return view;
}
