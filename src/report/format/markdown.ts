/**
 * The report as GitHub-flavoured Markdown (for a pull-request comment or docs/).
 */
import type { Report } from '../schema.js';
import { reportView } from './view.js';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/** The report as Markdown, ending with a newline. */
export function formatMarkdown(report: Report): string {
  const view = reportView(report);
  const out = [`# ${cell(view.title)}`, ''];
  for (const s of view.sections) {
    out.push(`## ${s.title}`, '');
    const header = s.header ?? ['metric', ...(s.rows[0]?.slice(1).map(() => 'value') ?? [])];
    if (s.rows.length === 0) {
      out.push('(none)', '');
      continue;
    }
    out.push(`| ${header.map(cell).join(' | ')} |`);
    out.push(`|${s.align.slice(0, header.length).map((a) => (a === 'right' ? ' ---: ' : ' --- ')).join('|')}|`);
    for (const r of s.rows) out.push(`| ${r.map(cell).join(' | ')} |`);
    out.push('');
  }
  for (const n of view.notes) out.push(`> ${n}`, '');
  if (report.gates.length > 0) out.push(report.passed ? '**All gates passed.**' : '**A gate FAILED.**', '');
  return `${out.join('\n').trimEnd()}\n`;
}
