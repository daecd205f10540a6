/** Where the repository is, from compiled tests in any build folder (dist/ or .build/<name>/). */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest folder above the compiled test holding package.json and fixtures/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!(existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'fixtures')))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found above the compiled tests');
    dir = up;
  }
  return dir;
}
