/**
 * Where a batch's outputs go under `-o DIR`: the inputs' folders mirrored below their common root
 * (`a/model.onnx` and `b/model.onnx` -> `DIR/a/model.quantize.onnx`, `DIR/b/model.quantize.onnx`), so
 * that models with the same file name never collide, and their external data files
 * (`<output>.data`) neither. The root is computed from all the inputs of the run, before a shard takes
 * its share, so that every shard writes its models where one unsharded run would.
 */
import { dirname, join, parse, relative, resolve, sep } from 'node:path';

/** The deepest folder that holds every one of `folders` (absolute paths). */
export function commonRoot(folders: readonly string[]): string {
  if (folders.length === 0) return resolve('.');
  const split = (p: string) => {
    const abs = resolve(p);
    const { root } = parse(abs);
    return [root, ...abs.slice(root.length).split(sep).filter((s) => s !== '')];
  };
  let common = split(folders[0]!);
  for (const f of folders.slice(1)) {
    const parts = split(f);
    let k = 0;
    while (k < common.length && k < parts.length && common[k] === parts[k]) k++;
    common = common.slice(0, k);
  }
  if (common.length === 0) return parse(resolve(folders[0]!)).root;
  return join(...common);
}

/**
 * `file` placed under `outDir` as its folder sits under `root`: `mirrored('out', '/m', '/m/a/x.onnx',
 * 'x.quantize.onnx')` is `out/a/x.quantize.onnx`.
 */
export function mirrored(outDir: string, root: string, input: string, name: string): string {
  const rel = relative(root, dirname(resolve(input)));
  return join(outDir, rel, name);
}
