/**
 * Report formatters by name (the values of `compress report --format`).
 */
import type { Report } from '../schema.js';
import { formatHtml } from './html.js';
import { formatJson } from './json.js';
import { formatMarkdown } from './markdown.js';
import { formatTable } from './table.js';

/** The formats `formatReport` renders. */
export const reportFormats = ['table', 'json', 'md', 'html'] as const;
/** One of `reportFormats`. */
export type ReportFormat = (typeof reportFormats)[number];

/** Renders a report in one of `reportFormats`. */
export function formatReport(report: Report, format: ReportFormat): string {
  switch (format) {
    case 'table':
      return formatTable(report);
    case 'json':
      return formatJson(report);
    case 'md':
      return formatMarkdown(report);
    case 'html':
      return formatHtml(report);
  }
}

export { formatHtml, formatJson, formatMarkdown, formatTable };
