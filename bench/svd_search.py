"""Exhaustive search over per-layer SVD ranks of a Gemm MLP at a parameter budget, against `compress svd`.

    python bench/svd_search.py [--fixture digits] [--ratios 0.25,0.16,0.1] [--ours]

For every combination of ranks (each weight matrix: whole, or a rank that saves parameters) whose
factors fit in `ratio` x the weights of all the matrices, the script measures the test accuracy of the
factorized MLP, with plain SVD (the truncated SVD of W) and with whitened SVD (SVD-LLM: the truncated
SVD of L^T W, H + lambda I = L L^T the Gram matrix of the layer's calibration inputs, lambda = 0.01 mean
diag H, as src/passes/svd does), and prints the best combination of each kind. Only the combinations that
cannot give any layer one more rank within the budget are tried (the others are dominated). The best
is chosen on the test set itself, so it is an upper bound no method that does not see the test labels can
be expected to reach. With --ours it also runs `compress svd <model> --ratio <ratio>` without data, with
`--data calib_x.npy` (measured sensitivities, the default), with `--data calib_x.npy --sensitivity layer`
and with `--data calib_x.npy --no-keep-head`, and measures the written models
in onnxruntime on the same test set. Prints one markdown table row per ratio and method.

The MLP is fixtures/<fixture>/model.onnx (Gemm [transB=1] and Relu, one input [batch, K]), its data
fixtures/<fixture>/data/{calib_x,test_x,test_y}.npy. Needs numpy and onnx (onnxruntime for --ours): the
venv /work/venv/py, or the one fixtures/make_digits.py names. Built with `npx tsc -p .` for --ours.
"""
import argparse
import itertools
import json
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


def run_ours(model, ratio, x, y, extra):
    """Runs compress svd; returns the accuracy of its output in onnxruntime, its weights, ranks and wall seconds."""
    import onnxruntime as ort
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.onnx")
        cmd = ["node", os.path.join(ROOT, "bin/compress.js"), "svd", model, "--ratio", str(ratio), "-o", out, "--quiet", "--json"] + extra
        t0 = time.time()
        p = subprocess.run(cmd, env={**os.environ, "COMPRESS_THREADS": os.environ.get("COMPRESS_THREADS", "1")}, capture_output=True, text=True)
        secs = time.time() - t0
        if p.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
        report = json.loads(p.stdout)
        s = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
        logits = s.run(None, {s.get_inputs()[0].name: x})[0]
        weights = sum(l["params"] for l in report["layers"])
        ranks = "(" + ", ".join(str(l["rank"]) if "rank" in l else "whole" for l in report["layers"]) + ")"
        return accuracy(logits, y), weights, ranks, secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixture", default="digits")
    ap.add_argument("--ratios", default="0.25,0.16,0.1")
    ap.add_argument("--ours", action="store_true")
    a = ap.parse_args()
    folder = os.path.join(ROOT, "fixtures", a.fixture)
    model = os.path.join(folder, "model.onnx")
    layers = load_mlp(model)
    calib_path = os.path.join(folder, "data/calib_x.npy")
    calib = np.load(calib_path).astype(np.float64)
    x = np.load(os.path.join(folder, "data/test_x.npy"))
    y = np.load(os.path.join(folder, "data/test_y.npy"))
    xs = x.astype(np.float64)
    full = [w.size for w, _ in layers]
    pool = sum(full)
    _, ins = forward(layers, calib)
    facts = [factorizations(w, ins[i]) for i, (w, _) in enumerate(layers)]
    # Each layer: None (whole) or a rank r with r (K + N) < K N.
    options = []
    for w, _ in layers:
        k, n = w.shape
        top = min(min(k, n), (w.size - 1) // (k + n))
        options.append([None] + list(range(1, top + 1)))
    size = lambda i, r: full[i] if r is None else r * sum(layers[i][0].shape)
    base = accuracy(forward(layers, xs)[0], y)
    print(f"{a.fixture}: {len(layers)} matrices {[w.shape for w, _ in layers]}, {pool} weights, float accuracy {base:.4f} "
          f"on {len(y)} test samples (load average {' '.join(f'{v:.1f}' for v in os.getloadavg())})")
    print("| ratio | method | ranks | weights | accuracy | time |")
    print("|---|---|---|---|---|---|")
    cache = [dict() for _ in layers]

    def product(i, kind, r):
        if r is None:
            return layers[i][0]
        key = (kind, r)
        if key not in cache[i]:
            cache[i][key] = facts[i][kind](r)
        return cache[i][key]

    for ratio in (float(v) for v in a.ratios.split(",")):
        budget = ratio * pool
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
        for kind, name in ((0, "plain SVD"), (1, "whitened SVD")):
            t0 = time.time()
            res = []
            for combo, total in combos:
                ws = [product(i, kind, r) for i, r in enumerate(combo)]
                res.append((accuracy(forward(layers, xs, ws)[0], y), combo, total))
            res.sort(key=lambda t: (-t[0], t[2]))
            best = res[0]
            good = sum(1 for r in res if r[0] >= 0.95)
            print(f"| {ratio} | exhaustive, {name}: best of {len(res)} (median {res[len(res) // 2][0]:.4f}, {good} >= 0.95) | "
                  f"{fmt(best[1])} | {best[2]} ({best[2] / pool:.3f}) | {best[0]:.4f} | {time.time() - t0:.0f} s |")
        if a.ours:
            runs = (([], "compress svd"), (["--data", calib_path], "compress svd --data"),
                    (["--data", calib_path, "--sensitivity", "layer"], "compress svd --data --sensitivity layer"),
                    (["--data", calib_path, "--no-keep-head"], "compress svd --data --no-keep-head"))
            for extra, label in runs:
                acc, weights, ranks, secs = run_ours(model, ratio, x, y, extra)
                print(f"| {ratio} | `{label} --ratio {ratio}` | {ranks} | {weights} ({weights / pool:.3f}) | {acc:.4f} | {secs:.1f} s |")


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
