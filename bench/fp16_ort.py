"""How onnxruntime runs the forms a float16 model's int8 quantization can take, to choose between them
(docs/quantize.md records the numbers). Times are ms per run on the CPU provider with 2 intra-op
threads, in alternating rounds (the median is printed), so that load from other processes hits every
variant alike.

  python bench/fp16_ort.py dynamic [--m 1024 --k 512 --n 2048]
      one quantized MatMul with a bias, three ways: the float32 model (DynamicQuantizeLinear ->
      MatMulInteger -> Cast -> Mul -> Add), the float16 model as compress writes it (Casts around
      that), and the float16 model on com.microsoft.MatMulIntegerToFloat (float16 scales and bias)

  python bench/fp16_ort.py static ORIGINAL_FP16 STATIC_OUT DATA.npy [--batch 64] [--float32 ORIGINAL STATIC]
      compress's static output of a float16 model (activation Q/DQ in float32 between Casts) against
      the same model with float16-scaled QuantizeLinear-19 pairs (the Casts removed, the scales
      converted), the float16 original, and optionally the float32 model and its static output

Needs onnx, onnxruntime and numpy (the venv /work/venv/py has them).
"""
import argparse
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh


def session(model):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 2
    o.log_severity_level = 3
    data = model if isinstance(model, (bytes, str)) else model.SerializeToString()
    return ort.InferenceSession(data, o, providers=["CPUExecutionProvider"])


def bench(variants, rounds=5, runs=20):
    """variants: name -> (session or error string, feeds). Prints the median ms per run of each."""
    times = {k: [] for k in variants}
    for _ in range(rounds):
        for name, (s, feeds) in variants.items():
            if isinstance(s, str):
                continue
            for _ in range(3):
                s.run(None, feeds)
            t = time.perf_counter()
            for _ in range(runs):
                s.run(None, feeds)
            times[name].append((time.perf_counter() - t) / runs * 1000)
    for name, (s, _) in variants.items():
        if isinstance(s, str):
            print(f"{name:48s} does not load: {s}")
        else:
            v = sorted(times[name])
            print(f"{name:48s} {v[len(v) // 2]:8.2f} ms  (rounds: {' '.join(f'{x:.2f}' for x in times[name])})")


def dynamic(args):
    rng = np.random.default_rng(0)
    K, N, M = args.k, args.n, args.m
    w = rng.integers(-127, 128, (K, N)).astype(np.int8)
    ws = (rng.random(N) * 0.01).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32)

    def make(kind):
        ft, npf = (T.FLOAT, np.float32) if kind == "float32" else (T.FLOAT16, np.float16)
        inits = [nh.from_array(w, "w"), nh.from_array(np.array(0, np.int8), "wz"), nh.from_array(b.astype(npf), "b")]
        nodes, x = [], "x"
        if kind != "float32":
            nodes.append(h.make_node("Cast", ["x"], ["x32"], to=T.FLOAT))
            x = "x32"
        nodes.append(h.make_node("DynamicQuantizeLinear", [x], ["xq", "xs", "xz"]))
        if kind == "MatMulIntegerToFloat":
            inits.append(nh.from_array(ws.astype(np.float16), "ws"))
            nodes += [
                h.make_node("Cast", ["xs"], ["xs16"], to=T.FLOAT16),
                h.make_node("MatMulIntegerToFloat", ["xq", "w", "xs16", "ws", "xz", "wz", "b"], ["y"], domain="com.microsoft"),
            ]
        else:
            inits.append(nh.from_array(ws, "ws"))
            nodes += [
                h.make_node("MatMulInteger", ["xq", "w", "xz", "wz"], ["mi"]),
                h.make_node("Cast", ["mi"], ["mf"], to=T.FLOAT),
                h.make_node("Mul", ["xs", "ws"], ["sc"]),
                h.make_node("Mul", ["mf", "sc"], ["m"]),
            ]
            if kind == "float32":
                nodes.append(h.make_node("Add", ["m", "b"], ["y"]))
            else:
                nodes += [h.make_node("Cast", ["m"], ["m16"], to=T.FLOAT16), h.make_node("Add", ["m16", "b"], ["y"])]
        g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", ft, [M, K])], [h.make_tensor_value_info("y", ft, None)], inits)
        m = h.make_model(g, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.microsoft", 1)])
        m.ir_version = 8
        return m, npf

    x = rng.standard_normal((M, K)).astype(np.float32)
    variants = {}
    for kind, label in [("float32", "float32: DQL -> MatMulInteger -> Cast -> Mul"), ("casts", "float16, compress: Casts around the float32 form"), ("MatMulIntegerToFloat", "float16: com.microsoft.MatMulIntegerToFloat")]:
        m, npf = make(kind)
        variants[label] = (session(m), {"x": x.astype(npf)})
    print(f"dynamic int8 MatMul [{M}, {K}] x [{K}, {N}] with bias")
    bench(variants)


def native_qdq(path):
    """compress's static float16 output with its activation pairs in float16 (QuantizeLinear-19)."""
    m = onnx.load(path)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    drop = set()
    rename = {}
    for q in [n for n in g.node if n.op_type == "QuantizeLinear"]:
        cast_in = producer.get(q.input[0])
        dq = consumers[q.output[0]][0]
        cast_out = consumers[dq.output[0]][0]
        if cast_in is None or cast_in.op_type != "Cast" or cast_out.op_type != "Cast":
            continue
        scale = inits[q.input[1]]
        scale.CopyFrom(nh.from_array(nh.to_array(scale).astype(np.float16), scale.name))
        q.input[0] = cast_in.input[0]
        rename[cast_out.output[0]] = dq.output[0]
        drop.update([id(cast_in), id(cast_out)])
    kept = [n for n in g.node if id(n) not in drop]
    for n in kept:
        for k, i in enumerate(n.input):
            if i in rename:
                n.input[k] = rename[i]
    for o in g.output:
        if o.name in rename:
            raise SystemExit(f"{o.name}: a graph output is quantized; not handled")
    del g.node[:]
    g.node.extend(kept)
    del g.value_info[:]
    return m


def static(args):
    x = np.load(args.data)[: args.batch]
    feeds16 = {"input": x.astype(np.float16)} if x.dtype == np.float32 else {"input": x}
    feeds32 = {"input": x}
    variants = {}

    def add(label, model, feeds):
        try:
            variants[label] = (session(model), feeds)
        except Exception as e:  # noqa: BLE001 (the message is the result)
            variants[label] = (str(e).splitlines()[0][:160], feeds)

    add("float16 original", args.original, feeds16)
    add("float16 static, compress (float32 pairs, Casts)", args.static, feeds16)
    add("float16 static, float16-scaled QuantizeLinear-19", native_qdq(args.static), feeds16)
    if args.float32:
        add("float32 original", args.float32[0], feeds32)
        add("float32 static", args.float32[1], feeds32)
    print(f"static int8 of {args.original}, batch {len(x)}")
    bench(variants)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dynamic")
    d.add_argument("--m", type=int, default=1024)
    d.add_argument("--k", type=int, default=512)
    d.add_argument("--n", type=int, default=2048)
    s = sub.add_parser("static")
    s.add_argument("original")
    s.add_argument("static")
    s.add_argument("data")
    s.add_argument("--batch", type=int, default=64)
    s.add_argument("--float32", nargs=2, metavar=("ORIGINAL", "STATIC"), help="the float32 model and its static output, timed alongside")
    args = p.parse_args()
    dynamic(args) if args.cmd == "dynamic" else static(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
