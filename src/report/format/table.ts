/**
 * The report as aligned plain text for a terminal (no colours: the CLI adds none to stdout).
 */
import type { Report } from '../schema.js';
import { reportView, type Align, type Section } from './view.js';

/** Pads cells into columns separated by two spaces; numbers right-aligned. */
export function alignRows(rows: string[][], align: Align[], indent = '  '): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => {
    const cells = r.map((c, i) => ((align[i] ?? 'left') === 'right' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)));
    return (indent + cells.join('  ')).trimEnd();
  });
}

function section(s: Section): string[] {
  const rows = s.header ? [s.header, ...s.rows] : s.rows;
  const lines = alignRows(rows, s.align);
  if (s.header) lines.splice(1, 0, `  ${'-'.repeat(Math.max(0, (lines[0] ?? '').length - 2))}`);
  return [s.title, ...(s.rows.length > 0 ? lines : ['  (none)'])];
}

/** The report as terminal text, ending with a newline. */
export function formatTable(report: Report): string {
  const view = reportView(report);
  const out = [view.title, ''];
  for (const s of view.sections) out.push(...section(s), '');
  for (const n of view.notes) out.push(n);
  if (report.gates.length > 0) out.push(report.passed ? 'all gates passed' : 'a gate FAILED');
  return `${out.join('\n').trimEnd()}\n`;
}
