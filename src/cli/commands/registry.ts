/**
 * Which compression passes this build has. Each subcommand's algorithm lives in
 * src/passes/<name>/index.ts and is loaded only when the command runs (so --help stays instant). A pass
 * module exports the function named like the command, `<name>(model, options, ctx)`, returning
 * `{ model, report? }`, and may export `parse<Name>Options(raw)` that validates and fills defaults
 * (the same check the programmatic API applies). `distill` receives the student as `model` and the
 * loaded teacher as `options.teacher`.
 *
 * A build without a pass (the module is absent, or lacks the function) answers, for that command only,
 * with exit 1 and the one line "compress <name>: this command is not available in this build"; it never
 * pretends to have done the work.
 */
import { fileURLToPath } from 'node:url';
import type { Context } from '../../core/logger.js';
import type { Model } from '../../ir/model.js';
import type { Dataset } from '../../calibration/readers/dataset.js';
import type { LayerReport, Report } from '../../report/schema.js';
import type { RTensor } from '../../runtime/value.js';
import { CliLineError } from '../errors.js';

/** The commands whose work is a pass module. */
export const passNames = ['quantize', 'gptq', 'prune', 'svd', 'distill', 'run'] as const;
/** One of `passNames`. */
export type PassName = (typeof passNames)[number];

/**
 * What a pass returns: the compressed model, and what it can tell about the work: per-layer results,
 * warnings, and (with --dry-run, where the model is left as it was) its plan. A pass may also hand back
 * report keys of its own (metrics it measured, say), which the report keeps.
 */
export interface PassOutcome {
  model: Model;
  modified?: boolean;
  layers?: LayerReport[];
  warnings?: string[];
  plan?: PassPlan;
  report?: Partial<Report>;
}

/** The parts of a pass's plan the CLI shows for --dry-run (all optional). */
export interface PassPlan {
  /** Weight bytes before and after. */
  bytes?: { before: number; after: number };
  /** The ai.onnx opset the result needs. */
  opset?: { from: number; to: number };
  /** Opset domains the result adds (e.g. com.microsoft). */
  newDomains?: string[];
  [key: string]: unknown;
}

/** What passes get besides the logger and progress: the --data batches, re-iterable, and the labels. */
export interface PassContext extends Context {
  /** Work done ahead by the pass's `prepare` during a reference run. */
  prepared?: PreparedWork;
  /** Batches of feeds by input name; each iteration starts again at the first sample. */
  data?: Iterable<Record<string, RTensor>>;
  dataset?: Dataset;
  labels?: Int32Array;
}

/** The signature of a pass function. */
export type PassFunction = (model: Model, options: unknown, ctx: PassContext) => PassOutcome | Promise<PassOutcome>;

/** A pass module as the CLI uses it. */
export interface LoadedPass {
  name: PassName;
  run: PassFunction;
  /** The pass's own option check, when it exports one. */
  parseOptions?: (raw: unknown) => unknown;
  /** Makes a plan printable (JSON-safe), when the module exports `printablePlan`. */
  printablePlan?: (plan: PassPlan) => unknown;
  /**
   * Work the pass can do during a streamed reference run of the original (`prepare<Name>`, e.g.
   * prepareQuantize): given the model and the checked options, a hand-over that sees each weight as the
   * run finishes with it, or undefined. Its result reaches the pass as `ctx.prepared`. `spillDir`, an
   * empty folder the caller removes afterwards, is where the work may keep its results until the output
   * is written (so that they do not pile up in memory).
   */
  prepare?: (model: Model, options: unknown, spillDir?: string) => PreparedWork | undefined;
}

/** What a pass's `prepare` returns (see LoadedPass.prepare). */
export interface PreparedWork {
  onWeight(value: import('../../ir/value.js').Value): void;
}

/** `gptq` -> `parseGptqOptions`. */
export function parserName(name: PassName): string {
  return `parse${name[0]!.toUpperCase()}${name.slice(1)}Options`;
}

/** The file URL of a pass module. Computed, so that tsc and bundlers do not require it to exist. */
export function passModuleUrl(name: PassName): URL {
  return new URL(`../../passes/${name}/index.js`, import.meta.url);
}

/**
 * True when `err` says that the module at `url` itself does not exist (Node: "Cannot find module
 * '<path>' imported from ..."), not that something it imports is missing.
 */
export function isMissingModule(err: NodeJS.ErrnoException, url: URL): boolean {
  return err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes(`'${fileURLToPath(url)}'`);
}

/** The error a build without that pass answers with (exit 1, one line). */
export function unavailable(name: string): CliLineError {
  return new CliLineError(`compress ${name}: this command is not available in this build`);
}

/**
 * Loads a pass module, or throws `unavailable(name)` when this build has none. A module that exists but
 * fails to load for another reason (a missing dependency inside it, a syntax error) is an internal error
 * and propagates as such.
 */
export async function loadPass(name: PassName, moduleUrl: URL = passModuleUrl(name)): Promise<LoadedPass> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(moduleUrl.href)) as Record<string, unknown>;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (isMissingModule(err, moduleUrl)) throw unavailable(name);
    throw e;
  }
  const run = mod[name];
  if (typeof run !== 'function') throw unavailable(name);
  const parse = mod[parserName(name)];
  const printable = mod.printablePlan;
  const prepare = mod[`prepare${name[0]!.toUpperCase()}${name.slice(1)}`];
  return {
    name,
    run: run as PassFunction,
    parseOptions: typeof parse === 'function' ? (parse as (raw: unknown) => unknown) : undefined,
    printablePlan: typeof printable === 'function' ? (printable as (plan: PassPlan) => unknown) : undefined,
    prepare: typeof prepare === 'function' ? (prepare as (model: Model, options: unknown) => PreparedWork | undefined) : undefined,
  };
}
