#!/usr/bin/python3
"""Our Wanda against the reference algorithm, on fixtures/lm.

    /usr/bin/python3 test/passes/prune/reference/wanda_reference.py PRUNED.onnx [--pattern 2:4]
        [--bias-correction] [--calib fixtures/lm/data/calib_x.npy] [--samples 256]

Rebuilds fixtures/lm in torch from its ONNX weights (the GPT class of fixtures/make_fixtures.py), runs
`prune_wanda` as locuslab/wanda writes it (lib/prune.py and lib/layerwrapper.py WrappedGPT: per block,
hooks on every nn.Linear gather scaler_row = ||X_j||^2 / nsamples on the dense block; W_metric =
|W| * sqrt(scaler_row); sort within each output row, zero the lowest sparsity * K, or for n:m the lowest
m - n of each group of m inputs; then the block is run again, pruned, to feed the next one), optionally adds
the mean output change (W - W') E[x] to each layer's bias, and prints the reference's perplexity on
data/test_x.npy and, layer by layer, the share of mask entries where PRUNED.onnx (written by
`compress prune --method wanda`) agrees with it. Needs Debian's python3-torch, python3-onnx, python3-numpy.
"""

import argparse
import copy
import importlib.util
import math
import os

import numpy as np
import onnx
import torch
from onnx import numpy_helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
LINEAR = ["q", "k", "v", "proj", "fc1", "fc2"]


def load_lm():
    spec = importlib.util.spec_from_file_location("make_fixtures", os.path.join(ROOT, "fixtures", "make_fixtures.py"))
    mf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mf)
    m = onnx.load(os.path.join(ROOT, "fixtures", "lm", "model.onnx"))
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    model = mf.GPT(2001)
    sd = model.state_dict()
    for k in sd:
        if k in init:
            sd[k] = torch.tensor(init[k])
    for n in m.graph.node:
        # '/blocks.0/q/MatMul' reads its [K, N] weight; nn.Linear holds [N, K].
        if n.op_type == "MatMul" and n.input[1] in init:
            parts = n.name.split("/")
            key = ".".join(parts[1:3]) if len(parts) > 3 else parts[1]
            sd[key + ".weight"] = torch.tensor(init[n.input[1]].T.copy())
    model.load_state_dict(sd)
    return model.eval()


class WrappedGPT:
    """lib/layerwrapper.py: the running mean over samples of ||X_j||^2 (scaler_row)."""

    def __init__(self, layer):
        self.scaler_row = torch.zeros(layer.weight.shape[1])
        self.nsamples = 0
        self.sum = torch.zeros(layer.weight.shape[1], dtype=torch.float64)
        self.tokens = 0

    def add_batch(self, inp):
        if len(inp.shape) == 2:
            inp = inp.unsqueeze(0)
        tmp = inp.shape[0]
        flat = inp.reshape((-1, inp.shape[-1]))
        self.sum += flat.double().sum(0)
        self.tokens += flat.shape[0]
        inp = flat.t()
        self.scaler_row *= self.nsamples / (self.nsamples + tmp)
        self.nsamples += tmp
        inp = inp.type(torch.float32)
        self.scaler_row += torch.norm(inp, p=2, dim=1) ** 2 / self.nsamples


def prune_wanda(model, calib, sparsity, prune_n, prune_m, bias_correction, batch=32):
    model = copy.deepcopy(model)
    with torch.no_grad():
        inps = model.tok(calib) + model.pos
        for blk in model.blocks:
            subset = {n: getattr(blk, n) for n in LINEAR}
            wrapped = {n: WrappedGPT(subset[n]) for n in subset}
            handles = [subset[n].register_forward_hook(lambda mod, inp, out, n=n: wrapped[n].add_batch(inp[0].data)) for n in subset]
            for j in range(0, inps.shape[0], batch):
                blk(inps[j : j + batch])
            for h in handles:
                h.remove()
            for n, layer in subset.items():
                W = layer.weight.data
                W_metric = torch.abs(W) * torch.sqrt(wrapped[n].scaler_row.reshape((1, -1)))
                W_mask = torch.zeros_like(W_metric) == 1
                if prune_n != 0:
                    for ii in range(W_metric.shape[1]):
                        if ii % prune_m == 0:
                            tmp = W_metric[:, ii : (ii + prune_m)].float()
                            W_mask.scatter_(1, ii + torch.topk(tmp, prune_n, dim=1, largest=False)[1], True)
                else:
                    indices = torch.sort(W_metric, dim=-1, stable=True)[1][:, : int(W_metric.shape[1] * sparsity)]
                    W_mask.scatter_(1, indices, True)
                before = W.clone()
                W[W_mask] = 0
                if bias_correction:
                    mean = (wrapped[n].sum / wrapped[n].tokens).float()
                    layer.bias.data += (before - W) @ mean
            inps = torch.cat([blk(inps[j : j + batch]) for j in range(0, inps.shape[0], batch)])
    return model


def perplexity(model, ids):
    with torch.no_grad():
        logits = model(ids)
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).double(), ids[:, 1:].reshape(-1))
    return math.exp(nll.item())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pruned", help="the model written by compress prune --method wanda")
    ap.add_argument("--pattern", default="unstructured")
    ap.add_argument("--bias-correction", action="store_true")
    ap.add_argument("--calib", default=os.path.join(ROOT, "fixtures", "lm", "data", "calib_x.npy"))
    ap.add_argument("--samples", type=int, default=256)
    a = ap.parse_args()
    torch.set_num_threads(1)
    prune_n, prune_m = (0, 0) if a.pattern == "unstructured" else (lambda n, m: (m - n, m))(*map(int, a.pattern.split(":")))
    model = load_lm()
    calib = torch.tensor(np.load(a.calib))[: a.samples]
    test = torch.tensor(np.load(os.path.join(ROOT, "fixtures", "lm", "data", "test_x.npy")))
    ref = prune_wanda(model, calib, 0.5, prune_n, prune_m, a.bias_correction)
    print(f"dense perplexity {perplexity(model, test):.6f}; reference Wanda perplexity {perplexity(ref, test):.6f}")
    ours = onnx.load(a.pruned)
    init = {i.name: numpy_helper.to_array(i) for i in ours.graph.initializer}
    for n in ours.graph.node:
        if n.op_type == "MatMul" and n.input[1] in init and n.name.count("/") > 2:
            b, layer = n.name.split("/")[1:3]
            if layer not in LINEAR:
                continue
            want = (getattr(ref.blocks[int(b.split(".")[1])], layer).weight.data == 0).numpy().T
            got = init[n.input[1]] == 0
            print(f"{n.name}: mask agreement {np.mean(want == got):.6f}, zeros {np.mean(got):.4f}")


if __name__ == "__main__":
    main()
