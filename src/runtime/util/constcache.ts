/**
 * Prepared forms of constant operands (a transposed Gemm weight, a conv filter in HWIO order), computed
 * once per session constant instead of once per run.
 *
 * Two reasons to bother. Each run would otherwise pay the transpose again (the wasm backend's Transpose
 * is a plain loop at ~4 ns per element). More importantly, the wasm backend caches the XNNPACK operator
 * it builds for a matmul or conv (with the weights packed in its own layout) under the weight tensor's
 * id, until that tensor is disposed: a weight re-derived every run gets a new id, so XNNPACK re-packs it
 * every run; a cached derived tensor keeps its id and the packed operator is reused.
 *
 * What counts as constant: a tensor the session keeps across runs (`owned === false`: an initializer)
 * that is not a trainable tf.Variable (a variable changes between steps and its derivations must be
 * recorded on the gradient tape), or the output of a Constant node, which the executor recomputes every
 * run but which never changes: its cache entry is keyed by the node's value attribute (the IR tensor),
 * so a pass that replaces the attribute gets a fresh entry. Entries live as long as their key object;
 * when that is collected (the session dropped its constant, the model was edited or dropped) the
 * FinalizationRegistry frees the derived tfjs memory.
 */
import { AttrType } from '../../ir/attribute.js';
import type { Tensor } from '../../ir/tensor.js';
import type { Value } from '../../ir/value.js';
import { tf } from '../backend.js';
import type { RTensor } from '../value.js';

type Key = RTensor | Tensor;

const cache = new WeakMap<Key, Map<string, tf.Tensor>>();
const registry = new FinalizationRegistry<tf.Tensor[]>((tensors) => {
  for (const t of tensors) if (!t.isDisposed) t.dispose();
});
/** Held tensors per key, shared with the registry so late additions are freed too. */
const held = new WeakMap<Key, tf.Tensor[]>();

/** The IR tensor of the Constant node producing `v` (ai.onnx Constant with a tensor `value`), if any. */
function constantNodeTensor(v: Value | null | undefined): Tensor | undefined {
  const p = v?.producer;
  if (!p || p.opType !== 'Constant' || p.domain !== '') return undefined;
  const a = p.attr('value');
  return a && a.type === AttrType.TENSOR ? a.value : undefined;
}

/** The cache key for `src` (fed as the node input `origin`), or undefined when it is not constant. */
function keyOf(src: RTensor, origin: Value | null | undefined): Key | undefined {
  if (!src.owned) return src.onDevice && src.tf instanceof tf.Variable ? undefined : src;
  return constantNodeTensor(origin);
}

/** Whether `src` (fed as the node input `origin`) is a constant whose derived forms `derived` keeps. */
export function isConstant(src: RTensor, origin?: Value | null): boolean {
  return keyOf(src, origin) !== undefined;
}

/**
 * The tensor `make(src.tf)`, computed once and kept when `src` is constant (see above; `origin` is the
 * node input it arrived through, which tells a Constant node's output apart), else computed afresh.
 * `key` names the derivation (e.g. 'T' for a transpose). Call from inside the kernel's tidy: a fresh
 * result is then freed with it, a kept one is not (`owned` says which).
 */
export function derived(src: RTensor, key: string, make: (t: tf.Tensor) => tf.Tensor, origin?: Value | null): { t: tf.Tensor; owned: boolean } {
  const k = keyOf(src, origin);
  if (!k) return { t: make(src.tf), owned: true };
  let m = cache.get(k);
  if (!m) {
    m = new Map();
    cache.set(k, m);
  }
  const hit = m.get(key);
  if (hit && !hit.isDisposed) return { t: hit, owned: false };
  // A constant still on the host is converted only for `make`: its derived form is what is kept.
  const t = tf.keep(tf.tidy(() => make(src.tfOnce())));
  m.set(key, t);
  let list = held.get(k);
  if (!list) {
    list = [];
    held.set(k, list);
    registry.register(k, list);
  }
  list.push(t);
  return { t, owned: false };
}

/**
 * `src.tf` itself, but for a Constant node's output a kept copy whose identity survives across runs (so
 * the wasm backend's XNNPACK operator cache, keyed by the weight tensor, is hit instead of re-packing
 * the weights every run). The clone shares memory with the first run's tensor.
 */
export function stable(src: RTensor, origin?: Value | null): tf.Tensor {
  if (!src.owned || !constantNodeTensor(origin)) return src.tf;
  return derived(src, 'stable', (t) => tf.clone(t), origin).t;
}
