/**
 * Materialising inputs on tfjs before a kernel's tf.tidy. RTensor.tf converts a host array on first
 * use; if that first use happens inside a tidy, the new tensor is tracked by the tidy and freed at its
 * end while the RTensor still points at it (a constant used by the next run would then be gone).
 * Kernels therefore touch `.tf` of their float inputs first, outside any tidy.
 */
import { tf } from '../backend.js';
import type { RTensor } from '../value.js';

/**
 * The tfjs tensors of `xs` (null stays null), created outside any tidy scope. A channels-last value is
 * on tfjs already: its channels-last tensor is returned, not transposed to [N, C, H, W] (a kernel that
 * needs that layout transposes through `.tf`, which keeps the result).
 */
export function onDevice(...xs: (RTensor | null | undefined)[]): (tf.Tensor | null)[] {
  return xs.map((x) => (x ? (x.channelsLast ? x.nhwc() : x.tf) : null));
}
