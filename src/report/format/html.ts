/**
 * The report as one self-contained HTML page: the same tables as the terminal and Markdown views, and
 * four plots drawn as inline SVG by a small inline script from the data embedded in the page (no
 * network, no external assets, works from file://):
 * - size by layer: stored bytes of each weight (params x bits / 8), the largest first;
 * - size by op type: the same bytes summed per op type;
 * - per-layer error: each layer's relative reconstruction error, where the pass recorded one;
 * - quality against size: each model as a point, accuracy (or perplexity, or top-1 agreement with the
 *   original) against its bytes.
 * Each plot's <svg> gets `data-count` = the bars or points it drew, so a headless browser can check
 * that the plots rendered (test/report/html.test.ts does, in Chromium).
 */
import type { LayerReport, Report } from '../schema.js';
import { reportView } from './view.js';

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** One bar of a plot. */
export interface Bar {
  label: string;
  value: number;
}

/** One point of the quality-against-size plot. */
export interface Point {
  label: string;
  bytes: number;
  value: number;
}

/** What the plots draw, embedded in the page as JSON. */
export interface PlotData {
  layers: Bar[];
  ops: Bar[];
  errors: Bar[];
  quality: { metric: string; points: Point[] };
}

/** Most bars a plot shows (the rest are summed into "other" for sizes, left out for errors). */
export const maxBars = 30;

function layerBytes(l: LayerReport): number {
  const bits = typeof l.bits === 'number' && l.bits > 0 ? l.bits : 32;
  return (l.params * bits) / 8;
}

/** The data of the four plots, from a report. */
export function plotData(report: Report): PlotData {
  const layers = report.layers ?? [];
  const sized = layers.map((l) => ({ label: l.name, value: layerBytes(l) })).sort((a, b) => b.value - a.value);
  const top = sized.slice(0, maxBars);
  const rest = sized.slice(maxBars).reduce((s, b) => s + b.value, 0);
  if (rest > 0) top.push({ label: `other ${sized.length - maxBars} layers`, value: rest });
  const byOp = new Map<string, number>();
  for (const l of layers) byOp.set(l.op || '?', (byOp.get(l.op || '?') ?? 0) + layerBytes(l));
  const errors = layers
    .filter((l) => typeof l.error === 'number' && Number.isFinite(l.error))
    .map((l) => ({ label: l.name, value: l.error as number }))
    .sort((a, b) => b.value - a.value)
    .slice(0, maxBars);

  const m = report.metrics;
  const points: Point[] = [];
  let metric = '';
  const o = m?.original ?? {};
  const c = m?.compressed ?? {};
  const add = (label: string, bytes: number | undefined, v: number | undefined) => {
    if (bytes !== undefined && v !== undefined && Number.isFinite(v)) points.push({ label, bytes, value: v });
  };
  if (m?.measured && (o.accuracy !== undefined || c.accuracy !== undefined)) {
    metric = 'accuracy';
    add('original', report.original.bytes, o.accuracy);
    add('compressed', report.compressed?.bytes, c.accuracy);
  } else if (m?.measured && (o.perplexity !== undefined || c.perplexity !== undefined)) {
    metric = 'perplexity';
    add('original', report.original.bytes, o.perplexity);
    add('compressed', report.compressed?.bytes, c.perplexity);
  } else if (report.fidelity?.top1Agreement !== undefined) {
    metric = 'top-1 agreement with the original';
    add('original', report.original.bytes, 1);
    add('compressed', report.compressed?.bytes, report.fidelity.top1Agreement);
  }
  return { layers: top, ops: [...byOp].map(([label, value]) => ({ label, value })).sort((a, b) => b.value - a.value), errors, quality: { metric, points } };
}

/** JSON safe inside a <script> element (no "</script>", no "<!--"). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

/**
 * The drawing script: horizontal bar charts and a scatter plot in SVG, sized to the data. Plain ES5-ish
 * DOM code so that any browser draws it; text goes in through textContent (never parsed as HTML).
 */
const drawScript = `
(function () {
  var NS = 'http://www.w3.org/2000/svg';
  var data = JSON.parse(document.getElementById('plot-data').textContent);
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, s, anchor) {
    var t = el('text', { x: x, y: y, 'font-size': 11, 'text-anchor': anchor || 'start' }, parent);
    t.textContent = s;
    return t;
  }
  // A plot with nothing to draw says why in a paragraph, which wraps with the page (SVG text would be
  // cut at the edge of the plot's box).
  function empty(svg) {
    svg.setAttribute('data-count', '0');
    svg.style.display = 'none';
    var p = document.createElement('p');
    p.className = 'plot-empty';
    p.id = svg.id + '-empty';
    p.textContent = svg.getAttribute('data-empty');
    svg.parentNode.insertBefore(p, svg.nextSibling);
  }
  function fmt(v, unit) {
    if (unit === 'bytes') {
      var u = ['B', 'KiB', 'MiB', 'GiB'], i = 0;
      while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
      return (i === 0 ? Math.round(v) : v.toFixed(1)) + ' ' + u[i];
    }
    return Math.abs(v) >= 0.01 || v === 0 ? v.toPrecision(4) : v.toExponential(2);
  }
  function bars(id, list, unit, colour) {
    var svg = document.getElementById(id);
    if (!list.length) { empty(svg); return; }
    var W = 760, L = 240, R = 90, H = 18, max = 0;
    list.forEach(function (b) { max = Math.max(max, b.value); });
    svg.setAttribute('width', W);
    svg.setAttribute('height', list.length * H + 8);
    list.forEach(function (b, i) {
      var w = max > 0 ? Math.max(1, (b.value / max) * (W - L - R)) : 1;
      var y = 4 + i * H;
      var label = b.label.length > 38 ? '\\u2026' + b.label.slice(-37) : b.label;
      text(svg, L - 6, y + 12, label, 'end');
      var r = el('rect', { 'class': 'bar', x: L, y: y + 2, width: w, height: H - 5, fill: colour }, svg);
      el('title', {}, r).textContent = b.label + ': ' + fmt(b.value, unit);
      text(svg, L + w + 4, y + 12, fmt(b.value, unit));
    });
    svg.setAttribute('data-count', String(list.length));
  }
  function scatter(id, q) {
    var svg = document.getElementById(id);
    if (!q.points.length) { empty(svg); return; }
    var W = 520, H = 300, P = 60;
    svg.setAttribute('width', W);
    svg.setAttribute('height', H);
    var xs = q.points.map(function (p) { return p.bytes; }), ys = q.points.map(function (p) { return p.value; });
    var x1 = Math.max.apply(null, xs) * 1.1, y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    var pad = (y1 - y0) * 0.2 || Math.abs(y1) * 0.05 || 0.05;
    y0 -= pad; y1 += pad;
    function X(v) { return P + (v / x1) * (W - 2 * P); }
    function Y(v) { return H - P + 20 - ((v - y0) / (y1 - y0)) * (H - 2 * P); }
    el('line', { x1: P, y1: H - P + 20, x2: W - P, y2: H - P + 20, stroke: '#444' }, svg);
    el('line', { x1: P, y1: 20, x2: P, y2: H - P + 20, stroke: '#444' }, svg);
    text(svg, W / 2, H - 8, 'model bytes', 'middle');
    text(svg, 4, 14, q.metric);
    text(svg, P - 4, Y(y0) , fmt(y0), 'end');
    text(svg, P - 4, Y(y1) + 10, fmt(y1), 'end');
    text(svg, W - P, H - P + 34, fmt(x1, 'bytes'), 'end');
    q.points.forEach(function (p) {
      var c = el('circle', { 'class': 'point', cx: X(p.bytes), cy: Y(p.value), r: 6, fill: p.label === 'original' ? '#777' : '#2a7' }, svg);
      el('title', {}, c).textContent = p.label + ': ' + fmt(p.value) + ' at ' + fmt(p.bytes, 'bytes');
      text(svg, X(p.bytes) + 9, Y(p.value) + 4, p.label + ' ' + fmt(p.value));
    });
    svg.setAttribute('data-count', String(q.points.length));
  }
  bars('plot-layers', data.layers, 'bytes', '#48c');
  bars('plot-ops', data.ops, 'bytes', '#84c');
  bars('plot-errors', data.errors, '', '#c64');
  scatter('plot-quality', data.quality);
  document.body.setAttribute('data-plots', 'drawn');
})();
`;

/** The report as an HTML document. */
export function formatHtml(report: Report): string {
  const view = reportView(report);
  const data = plotData(report);
  const out = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(view.title)}</title>`,
    '<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}' +
      'td,th{border:1px solid #ccc;padding:.25em .6em}td.r{text-align:right;font-variant-numeric:tabular-nums}' +
      'svg.plot{display:block;margin-bottom:1.5em;font-family:system-ui,sans-serif}p.plot-empty{color:#555;max-width:60em}h1{overflow-wrap:anywhere}</style>',
    '</head><body>',
    `<h1>${escapeHtml(view.title)}</h1>`,
  ];
  for (const n of view.notes) out.push(`<p><em>${escapeHtml(n)}</em></p>`);
  if (report.gates.length > 0) out.push(`<p><strong>${report.passed ? 'All gates passed.' : 'A gate FAILED.'}</strong></p>`);
  const which = report.compressed ? 'compressed model' : 'model';
  out.push(
    '<h2>plots</h2>',
    `<h3>size by layer (${which}, stored bytes)</h3>`,
    '<svg class="plot" id="plot-layers" data-empty="no weights to show" xmlns="http://www.w3.org/2000/svg"></svg>',
    `<h3>size by op type (${which}, stored bytes)</h3>`,
    '<svg class="plot" id="plot-ops" data-empty="no weights to show" xmlns="http://www.w3.org/2000/svg"></svg>',
    '<h3>per-layer error (relative reconstruction error)</h3>',
    '<svg class="plot" id="plot-errors" data-empty="no per-layer error was recorded (the compressing commands record it; compress report compares outputs only)" xmlns="http://www.w3.org/2000/svg"></svg>',
    `<h3>${escapeHtml(data.quality.metric || 'quality')} against size</h3>`,
    '<svg class="plot" id="plot-quality" data-empty="accuracy was not measured: give --data (and --labels) to plot it" xmlns="http://www.w3.org/2000/svg"></svg>',
  );
  for (const s of view.sections) {
    out.push(`<h2>${escapeHtml(s.title)}</h2>`, '<table>');
    if (s.header) out.push(`<tr>${s.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`);
    for (const r of s.rows) out.push(`<tr>${r.map((c, i) => `<td${s.align[i] === 'right' ? ' class="r"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`);
    out.push('</table>');
  }
  out.push(`<script type="application/json" id="plot-data">${scriptJson(data)}</script>`, `<script>${drawScript}</script>`, '</body></html>');
  return `${out.join('\n')}\n`;
}
