/**
 * The observer interface: statistics of one tensor accumulated batch by batch, from which a
 * quantization range is chosen. Observers never keep the values themselves, so calibration memory is
 * bounded by the number of observed tensors, not the size of the data set.
 */

/** A range and why it was chosen (what the report shows per tensor). */
export interface RangeChoice {
  min: number;
  max: number;
  /** The method that gave it: 'minmax', 'percentile 99.99', 'mse', 'entropy', 'lp3'... */
  method: string;
  /** The smallest and largest value seen. */
  observed: { min: number; max: number };
  /**
   * Its quantization error, mean |x - q(x)|^p / mean |x|^p over the values seen (QuantizationError), when
   * the observer kept a histogram: p = 2 (the relative mean squared error) for the named methods, the
   * power auto compares its candidates by for auto.
   */
  error?: number;
  /** The best range another method gave, when there was a choice, with its error. */
  runnerUp?: { method: string; min: number; max: number; error: number };
}

export interface RangeObserver {
  /** Adds a batch of values (any shape, flattened). */
  update(values: ArrayLike<number>): void;
  /** The chosen range [min, max] (min <= max); [0, 0] when nothing was seen. */
  range(): { min: number; max: number };
  /** The chosen range with its method and, where the observer measured it, its error. */
  choice(): RangeChoice;
  /** How many values were seen. */
  readonly count: number;
}
