/**
 * The report as JSON (CLI.md's stable keys): two-space indented, non-finite numbers as null (JSON has
 * no NaN or Infinity), ending with a newline.
 */
import type { Report } from '../schema.js';

/** JSON text of a report or any value holding reports. */
export function formatJson(value: Report | unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : typeof v === 'bigint' ? Number(v) : v), 2)}\n`;
}
