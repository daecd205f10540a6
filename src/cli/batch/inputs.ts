/**
 * The models a compressing command works on, from what the user typed: files, quoted globs (Node 20 has
 * no fs.glob; `*` and `?` match within one folder level, `**` any number of levels) and folders (every
 * `.onnx` below them). A folder walk and a glob leave out our own outputs (`*.<command>.onnx`), hidden
 * entries and anything under the `-o` folder, so that a rerun over the same tree never compresses its
 * previous results; a file named on the command line is taken as it is.
 */
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UsageError } from '../../core/errors.js';

/** The expanded inputs and what the output tree is computed from. */
export interface ExpandedInputs {
  /** Model paths: files in the order given, a folder's or a glob's sorted; each file once. */
  files: string[];
  /**
   * The folders the tree below `-o` mirrors from: every folder named (directly or by a glob) and the
   * folder of every file named. Their common ancestor is the tree's root.
   */
  anchors: string[];
  /** A folder or a glob was among the arguments: a batch, even when it names a single model. */
  expanded: boolean;
}

/** What a walk leaves out. */
export interface ExpandOptions {
  /** The command: its own outputs (`*.<command>.onnx`) are not inputs. */
  command: string;
  /** The -o path: nothing below it is an input of a walk or glob. */
  exclude?: string;
}

const hasWildcard = (s: string) => /[*?]/.test(s);

/** A path segment with `*` or `?` as a regular expression (neither matches '/'; a leading dot is not matched by a wildcard). */
function segmentPattern(segment: string): RegExp {
  const body = segment.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${segment.startsWith('.') ? '' : '(?!\\.)'}${body}$`);
}

/** Sorted by UTF-16 code units: the same order on every machine, whatever its locale. */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

function sortedNames(dir: string): string[] {
  try {
    return readdirSync(dir).sort(byCodeUnits);
  } catch {
    return [];
  }
}

/**
 * Expands `*`, `?` and `**` in paths, one segment at a time, sorted. A path without wildcards passes
 * through as it is (a missing one is reported later, with the others); the last segment of a pattern
 * matches files and folders alike. A pattern that matches nothing is a usage error.
 */
export function expandGlob(pattern: string): string[] {
  const absolute = isAbsolute(pattern);
  const parts = pattern.split(/[\\/]+/).filter((p, i) => p !== '' || i === 0);
  let paths: string[] = [absolute ? sep : ''];
  for (let i = absolute ? 1 : 0; i < parts.length; i++) {
    const part = parts[i]!;
    const last = i === parts.length - 1;
    const next: string[] = [];
    const at = (base: string, name: string) => (base === '' ? name : join(base, name));
    for (const base of paths) {
      if (part === '**') {
        // Zero or more folder levels (hidden ones left out).
        const stack = [base];
        while (stack.length > 0) {
          const d = stack.shift()!;
          next.push(d);
          for (const n of sortedNames(d === '' ? '.' : d)) if (!n.startsWith('.') && isDir(at(d, n))) stack.push(at(d, n));
        }
      } else if (!hasWildcard(part)) {
        if (exists(at(base, part))) next.push(at(base, part));
      } else {
        const re = segmentPattern(part);
        for (const n of sortedNames(base === '' ? '.' : base)) {
          const p = at(base, n);
          if (re.test(n) && (last ? exists(p) : isDir(p))) next.push(p);
        }
      }
    }
    paths = [...new Set(next)];
    if (!last) paths = paths.filter((p) => isDir(p === '' ? '.' : p));
  }
  paths = paths.map((p) => (p === '' ? '.' : p));
  if (paths.length === 0) throw new UsageError(`no model file matches '${pattern}'`, 'check the pattern; * and ? match within one folder level, ** any number of levels');
  return paths;
}

/**
 * Every `.onnx` file below `root`, sorted by path, less hidden entries, our own outputs and `exclude`'s
 * subtree. Symbolic links are followed, each real folder once.
 */
export function walkModels(root: string, options: ExpandOptions): string[] {
  const own = `.${options.command}.onnx`;
  const excluded = options.exclude !== undefined ? resolve(options.exclude) : undefined;
  const seen = new Set<string>();
  const out: string[] = [];
  const visit = (dir: string) => {
    if (excluded !== undefined && isInside(resolve(dir), excluded)) return;
    let real: string;
    try {
      real = realpathSync(dir);
    } catch {
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    for (const name of sortedNames(dir)) {
      if (name.startsWith('.')) continue;
      const p = join(dir, name);
      if (isDir(p)) visit(p);
      else if (name.toLowerCase().endsWith('.onnx') && !name.endsWith(own) && !(excluded !== undefined && isInside(resolve(p), excluded))) out.push(p);
    }
  };
  visit(root);
  return out;
}

/** `inner` is `outer` or below it. */
export function isInside(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * The models named by files, globs and folders (module comment). Files keep the order given; a model
 * named twice (by two arguments, or by two spellings of its path) is taken once. A folder without any
 * model is a usage error.
 */
export function expandInputs(args: readonly string[], options: ExpandOptions): ExpandedInputs {
  const files: string[] = [];
  const anchors: string[] = [];
  const seen = new Set<string>();
  let expanded = false;
  const add = (p: string) => {
    const key = resolve(p);
    if (seen.has(key)) return;
    seen.add(key);
    files.push(p);
  };
  const own = `.${options.command}.onnx`;
  const excluded = options.exclude !== undefined ? resolve(options.exclude) : undefined;
  for (const arg of args) {
    const glob = hasWildcard(arg);
    const matched = glob ? expandGlob(arg) : [arg];
    if (glob) expanded = true;
    let eligible = 0;
    for (const p of matched) {
      if (isDir(p)) {
        expanded = true;
        if (excluded !== undefined && resolve(p) === excluded) continue;
        anchors.push(resolve(p));
        const found = walkModels(p, options);
        eligible += found.length;
        if (found.length === 0 && !glob) throw new UsageError(`no .onnx model below the folder '${p}'`, `a folder stands for every .onnx below it, except outputs (*${own}) and the -o folder`);
        found.forEach(add);
      } else {
        // A glob leaves out what a folder walk would; a file named outright is taken as given.
        if (glob && (!p.toLowerCase().endsWith('.onnx') || p.endsWith(own) || (excluded !== undefined && isInside(resolve(p), excluded)))) continue;
        eligible++;
        anchors.push(dirname(resolve(p)));
        add(p);
      }
    }
    if (glob && eligible === 0) throw new UsageError(`no model file matches '${arg}'`, `a glob stands for the .onnx files it matches, except outputs (*${own}) and the -o folder`);
  }
  return { files, anchors, expanded };
}
