/**
 * The report as a self-contained HTML page (no scripts, no external assets).
 */
import type { Report } from '../schema.js';
import { reportView } from './view.js';

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The report as an HTML document. */
export function formatHtml(report: Report): string {
  const view = reportView(report);
  const out = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(view.title)}</title>`,
    '<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}' +
      'td,th{border:1px solid #ccc;padding:.25em .6em}td.r{text-align:right;font-variant-numeric:tabular-nums}</style>',
    '</head><body>',
    `<h1>${escapeHtml(view.title)}</h1>`,
  ];
  for (const s of view.sections) {
    out.push(`<h2>${escapeHtml(s.title)}</h2>`, '<table>');
    if (s.header) out.push(`<tr>${s.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`);
    for (const r of s.rows) out.push(`<tr>${r.map((c, i) => `<td${s.align[i] === 'right' ? ' class="r"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`);
    out.push('</table>');
  }
  for (const n of view.notes) out.push(`<p><em>${escapeHtml(n)}</em></p>`);
  if (report.gates.length > 0) out.push(`<p><strong>${report.passed ? 'All gates passed.' : 'A gate FAILED.'}</strong></p>`);
  out.push('</body></html>');
  return `${out.join('\n')}\n`;
}
