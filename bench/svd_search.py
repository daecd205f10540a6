"""Exhaustive search over per-layer SVD ranks of a Gemm MLP at a parameter budget, against `compress svd`.

    python bench/svd_search.py [--fixture digits] [--ratio 0.25] [--ours]

For every combination of ranks (each weight matrix: whole, or a rank that saves parameters) whose
factors fit in `ratio` x the weights of all the matrices, the script measures the test accuracy of the
factorized MLP, with plain SVD (the truncated SVD of W) and with whitened SVD (SVD-LLM: the truncated
SVD of L^T W, H + lambda I = L L^T the Gram matrix of the layer's calibration inputs, lambda = 0.01 mean
diag H, as src/passes/svd does), and prints the best combination of each kind. Only the combinations that
cannot give any layer one more rank within the budget are tried (the others are dominated). With --ours
it also runs `compress svd <model> --ratio <ratio>` (with and without `--data calib_x.npy`) and measures
the written models in onnxruntime on the same test set.

The MLP is fixtures/<fixture>/model.onnx (Gemm [transB=1] and Relu, one input [batch, K]), its data
fixtures/<fixture>/data/{calib_x,test_x,test_y}.npy. Needs numpy and onnx (onnxruntime for --ours): the
venv /work/venv/py, or the one fixtures/make_digits.py names. Built with `npx tsc -p .` for --ours.
"""
import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_mlp(path):
    """The Gemm layers of a Gemm/Relu chain: [(W [K, N], b [N])] in order."""
    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in m.graph.initializer}
    layers = []
    for n in m.graph.node:
        if n.op_type == "Relu":
            continue
        if n.op_type != "Gemm":
            sys.exit(f"{path}: only Gemm/Relu chains are searched, found {n.op_type}")
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        w = inits[n.input[1]]
        if attrs.get("transB", 0):
            w = w.T
        layers.append((w * attrs.get("alpha", 1.0), inits[n.input[2]] * attrs.get("beta", 1.0)))
    return layers


def forward(layers, x, weights=None):
    h = x
    ins = []
    for i, (w, b) in enumerate(layers):
        ins.append(h)
        h = h @ (weights[i] if weights is not None else w) + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    return h, ins


def factorizations(w, x, damp=0.01):
    """Plain and whitened rank-r products for every r: functions r -> W_r [K, N]."""
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    plain = lambda r: (u[:, :r] * s[:r]) @ vt[:r]
    h = x.T @ x
    h = h + damp * np.mean(np.diag(h)) * np.eye(h.shape[0])
    l = np.linalg.cholesky(h)
    uw, sw, vwt = np.linalg.svd(l.T @ w, full_matrices=False)
    linv_t = np.linalg.inv(l.T)
    white = lambda r: linv_t @ ((uw[:, :r] * sw[:r]) @ vwt[:r])
    return plain, white


def accuracy(logits, y):
    return float((logits.argmax(1) == y).mean())


def run_ours(model, ratio, data, x, y, extra):
    import onnxruntime as ort
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.onnx")
        cmd = ["node", os.path.join(ROOT, "bin/compress.js"), "svd", model, "--ratio", str(ratio), "-o", out, "--quiet", "--force"] + extra
        if data:
            cmd += ["--data", data]
        t0 = time.time()
        subprocess.run(cmd, check=True, env={**os.environ, "COMPRESS_THREADS": os.environ.get("COMPRESS_THREADS", "1")})
        secs = time.time() - t0
        s = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
        logits = s.run(None, {s.get_inputs()[0].name: x})[0]
        m = onnx.load(out)
        weights = sum(int(np.prod(i.dims)) for i in m.graph.initializer if len(i.dims) == 2)
        return accuracy(logits, y), weights, secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixture", default="digits")
    ap.add_argument("--ratio", type=float, default=0.25)
    ap.add_argument("--ours", action="store_true")
    ap.add_argument("--extra", default="", help="more flags for compress svd, space separated")
    a = ap.parse_args()
    folder = os.path.join(ROOT, "fixtures", a.fixture)
    model = os.path.join(folder, "model.onnx")
    layers = load_mlp(model)
    calib = np.load(os.path.join(folder, "data/calib_x.npy")).astype(np.float64)
    x = np.load(os.path.join(folder, "data/test_x.npy"))
    y = np.load(os.path.join(folder, "data/test_y.npy"))
    full = [w.size for w, _ in layers]
    budget = a.ratio * sum(full)
    _, ins = forward(layers, calib)
    facts = [factorizations(w, ins[i]) for i, (w, _) in enumerate(layers)]
    # Each layer: None (whole) or a rank r with r (K + N) < K N.
    options = []
    for w, _ in layers:
        k, n = w.shape
        top = min(min(k, n), (w.size - 1) // (k + n))
        options.append([None] + list(range(1, top + 1)))
    size = lambda i, r: full[i] if r is None else r * sum(layers[i][0].shape)
    base = accuracy(forward(layers, x.astype(np.float64))[0], y)
    print(f"{a.fixture}: {len(layers)} matrices {[w.shape for w, _ in layers]}, {sum(full)} weights, float accuracy {base:.4f}; "
          f"budget {a.ratio} x = {int(budget)} weights")
    cache = [dict() for _ in layers]

    def product(i, kind, r):
        if r is None:
            return layers[i][0]
        key = (kind, r)
        if key not in cache[i]:
            cache[i][key] = facts[i][kind](r)
        return cache[i][key]

    # Maximal combinations: all but the last layer enumerated, the last takes the highest option that fits.
    combos = []
    for head in itertools.product(*options[:-1]):
        used = sum(size(i, r) for i, r in enumerate(head))
        fits = [r for r in options[-1] if used + size(len(head), r) <= budget]
        if not fits:
            continue
        last = None if None in fits else max(fits)
        combo = head + (last,)
        total = used + size(len(head), last)
        if any(used_more(combo, i, options, size, budget, total) for i in range(len(combo))):
            continue
        combos.append((combo, total))
    print(f"{len(combos)} maximal rank combinations within the budget")
    xs = x.astype(np.float64)
    for kind, name in ((0, "plain"), (1, "whitened")):
        res = []
        for combo, total in combos:
            ws = [product(i, kind, r) for i, r in enumerate(combo)]
            res.append((accuracy(forward(layers, xs, ws)[0], y), combo, total))
        res.sort(key=lambda t: (-t[0], t[2]))
        best = res[0]
        good = sum(1 for r in res if r[0] >= 0.95)
        print(f"  {name:9s} best accuracy {best[0]:.4f} at ranks {fmt(best[1])}, {best[2]} weights ({best[2] / sum(full):.3f} x); "
              f"median {res[len(res) // 2][0]:.4f}; {good} of {len(res)} combinations >= 0.95")
    if a.ours:
        extra = a.extra.split() if a.extra else []
        for data in (None, os.path.join(folder, "data/calib_x.npy")):
            acc, weights, secs = run_ours(model, a.ratio, data, x, y, extra)
            print(f"  compress svd --ratio {a.ratio}{' --data calib_x.npy' if data else ''} {' '.join(extra)}: accuracy {acc:.4f}, "
                  f"{weights} weights ({weights / sum(full):.3f} x), {secs:.1f} s")


def used_more(combo, i, options, size, budget, total):
    """True when layer i could take its next larger option and still fit."""
    r = combo[i]
    if r is None:
        return False
    opts = options[i]
    k = opts.index(r)
    bigger = [None] if k == len(opts) - 1 else [opts[k + 1], None]
    return any(total - size(i, r) + size(i, b) <= budget for b in bigger)


def fmt(combo):
    return "(" + ", ".join("whole" if r is None else str(r) for r in combo) + ")"


if __name__ == "__main__":
    main()
