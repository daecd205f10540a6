#!/usr/bin/python3
"""A decoder shaped like a 125M-parameter GPT-2 (d 768, 12 heads, MLP 3072, vocabulary 50257, context 512)
with the fixture LM's block structure (fixtures/make_fixtures.py) and GPT-2's initialisation (std 0.02),
for timing gptq (bench/gptq.ts, docs/gptq.md). Not trained: only its shapes matter for speed.

Usage (Debian's python3 with python3-torch): /usr/bin/python3 bench/make_decoder.py <out dir> [blocks=2]
Writes <out dir>/decoder<blocks>.onnx and <out dir>/calib.npy (128 x 512 random token ids, seeded).
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import make_fixtures as mf  # noqa: E402

out_dir = sys.argv[1]
blocks = int(sys.argv[2]) if len(sys.argv) > 2 else 2
os.makedirs(out_dir, exist_ok=True)
torch.manual_seed(0)
model = mf.GPT(50257, d=768, heads=12, d_mlp=3072, layers=blocks, seq=512).eval()
for p in model.parameters():
    if p.dim() == 2:
        nn.init.normal_(p, std=0.02)
print("params", sum(p.numel() for p in model.parameters()))
path = os.path.join(out_dir, f"decoder{blocks}.onnx")
torch.onnx.export(model, (torch.randint(0, 50257, (1, 512)),), path, opset_version=14, do_constant_folding=True,
                  input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
np.save(os.path.join(out_dir, "calib.npy"), np.random.default_rng(0).integers(0, 50257, size=(128, 512), dtype=np.int64))
print("wrote", path)
