/**
 * `compress prune`: magnitude, Wanda and SparseGPT pruning (unstructured or n:m), and channel pruning by
 * L1 / L2 norms or Taylor scores that really shrinks the model. See docs/prune.md.
 */
export { prune, type PruneContext, type PruneResult } from './pass.js';
export {
  parsePruneOptions,
  parsePrunePattern,
  patternName,
  pruneFlags,
  pruneMethodNames,
  type PruneOptions,
  type PruneMethod,
  type PrunePattern,
  type PruneScope,
} from './options.js';
export { pruneLayers, toRows, fromRows, type PruneLayer, type SkippedLayer } from './layers.js';
