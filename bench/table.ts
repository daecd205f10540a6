/** Small formatting helpers of the peer benchmarks' tables and messages (bench/peers.ts, bench/llm.ts). */

/** A markdown table (readable in a terminal as it is, and pasted into docs/performance.md). Pipes in cells are escaped. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const line = (cells: readonly string[]) => `| ${cells.map(esc).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Megabytes with two decimals below 10 MB, one below 1000, none above. */
export function mb(bytes: number): string {
  const v = bytes / 1e6;
  return v < 10 ? v.toFixed(2) : v < 1000 ? v.toFixed(1) : v.toFixed(0);
}

/** a / b with three significant digits, e.g. "0.912x"; "" when b is zero or either is missing. */
export function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b === 0) return '';
  return `${(a / b).toPrecision(3)}x`;
}

/** The first non-empty line of an error's message, cut to 200 characters: one table cell. */
export function firstLine(e: unknown): string {
  const s = (e instanceof Error ? e.message : String(e)).split('\n').find((l) => l.trim() !== '') ?? '';
  return s.length > 200 ? s.slice(0, 197) + '...' : s;
}
