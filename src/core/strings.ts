/** Small string utilities shared by the CLI and the benchmarks. */

/**
 * The Levenshtein distance between two strings (insertions, deletions and substitutions of UTF-16 code
 * units, each costing 1): what "did you mean" suggestions and character error rates count.
 */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length]!;
}
