/**
 * A batch's inputs before any output is planned: the arguments expanded (files, globs, folders), the
 * root of the output tree (from all the inputs), and this run's share of them under --shard.
 */
import { resolve } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { expandInputs } from './inputs.js';
import { shareOf, sortedForShards, type Shard } from './shard.js';
import { commonRoot } from './tree.js';

/** What runCompress works through. */
export interface BatchPlan {
  /** Every model of the run (all shards), in the order given; sorted by path below the root under --shard. */
  all: string[];
  /** This run's models: `all`, or the shard's share of it. */
  selected: string[];
  /** More than one model, or a folder or glob among the arguments: -o names a folder, failures do not stop the run. */
  several: boolean;
  /** The folder the output tree mirrors (the common root of the folders named and the files' folders). */
  root: string;
  shard?: Shard;
}

/** Expands the arguments and takes the shard's share (module comment). */
export function planBatch(command: string, args: readonly string[], common: { output?: string; shard?: Shard; summary?: string }): BatchPlan {
  if (args.length === 0) throw new UsageError('no input model given');
  const expanded = expandInputs(args, { command, exclude: common.output });
  const root = commonRoot(expanded.anchors);
  const all = common.shard ? sortedForShards(expanded.files, root) : expanded.files;
  const selected = common.shard ? shareOf(all, common.shard) : all;
  if (common.summary !== undefined && all.some((f) => resolve(f) === resolve(common.summary!))) {
    throw new UsageError(`--summary '${common.summary}' is one of the input models; compress never overwrites its input`);
  }
  return { all, selected, several: all.length > 1 || expanded.expanded, root, ...(common.shard ? { shard: common.shard } : {}) };
}
