/**
 * The observer interface: statistics of one tensor accumulated batch by batch, from which a
 * quantization range is chosen. Observers never keep the values themselves, so calibration memory is
 * bounded by the number of observed tensors, not the size of the data set.
 */

export interface RangeObserver {
  /** Adds a batch of values (any shape, flattened). */
  update(values: ArrayLike<number>): void;
  /** The chosen range [min, max] (min <= max); [0, 0] when nothing was seen. */
  range(): { min: number; max: number };
  /** How many values were seen. */
  readonly count: number;
}
