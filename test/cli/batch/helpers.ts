/** Helpers of the batch tests. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * The model files below `dir` (relative paths, sorted) with their bytes. JSON is left out: reports,
 * manifests and summaries hold timings, so they differ between runs that wrote the same models.
 */
export function modelFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (!n.endsWith('.json')) out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}
