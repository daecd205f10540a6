/**
 * The seeded PRNG used wherever a random choice must be reproducible (--seed): mulberry32, a small, fast
 * 32-bit generator (Tommy Ettinger); good enough for synthetic inputs, shuffles and sketches.
 */

/** A generator of uniform numbers in [0, 1), fully determined by `seed`. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
