"""onnxruntime's own quantizers, called as their documentation shows, for the peer benchmark
(bench/peers.ts). One tool run per process, so that the benchmark times python's start-up,
loading, quantizing and saving, as a user's script would, and a crash or an OOM kill ends only this run.

  python bench/peers.py static  MODEL OUT --calib CALIB.npz [--method minmax|percentile|entropy]
                                [--per-channel] [--activation quint8|qint8] [--ops Conv,MatMul,...]
                                [--percentile 99.99] [--batch-size 32] [--per-sample]
        quantize_static (QDQ); without options exactly its defaults (MinMax, per tensor, QInt8
        activations and weights, every op type it supports)
  python bench/peers.py dynamic MODEL OUT [--per-channel] [--ops MatMul,Gemm]
        quantize_dynamic; without options its defaults
  python bench/peers.py nbits   MODEL OUT [their command line's flags: --block_size 32 --quant_method hqq ...]
        MatMulNBitsQuantizer through its own command line (python -m
        onnxruntime.quantization.matmul_nbits_quantizer, run in this process): block 32, symmetric, MatMul
        weights, output saved with external data

--preprocess (before the tool's name) first runs what onnxruntime's documentation recommends before
quantizing, quant_pre_process (symbolic shape inference and onnxruntime's basic graph optimizations, which
also turn Constant nodes into initializers), then makes any Constant left an initializer (where
quant_pre_process failed: a line "peers: quant_pre_process failed ..." says so) and raises an opset below
13 to 13 with onnx's version converter (per-channel QDQ needs opset 13: without it onnxruntime writes an
axis attribute opset 11 lacks). These are the steps a user must take before onnxruntime's quantizers can
quantize paddle2onnx's models; they count in the run's time, and a line "peers: pre-processing took N s"
gives their share.

CALIB.npz holds one array per model input (first axis = samples): the file our side calibrates on.
Runs in the venv of bench/peers-venv.sh (onnx 1.23.1, onnxruntime 1.30.0, torch for HQQ).
"""
import argparse
import os
import runpy
import shutil
import sys
import tempfile
import time

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantType, quantize_dynamic, quantize_static


class NpzReader(CalibrationDataReader):
    """Batches of an .npz (one array per input name) in file order; with per_sample, a[i] is one whole feed."""

    def __init__(self, path, batch_size, per_sample=False):
        data = np.load(path)
        self.arrays = {k: data[k] for k in data.files}
        self.n = min(a.shape[0] for a in self.arrays.values())
        self.batch = 1 if per_sample else batch_size
        self.per_sample = per_sample
        self.pos = 0

    def get_next(self):
        if self.pos >= self.n:
            return None
        if self.per_sample:
            feed = {k: np.asarray(a[self.pos]) for k, a in self.arrays.items()}
        else:
            feed = {k: a[self.pos:self.pos + self.batch] for k, a in self.arrays.items()}
        self.pos += self.batch
        return feed

    def rewind(self):
        self.pos = 0


METHODS = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile, "entropy": CalibrationMethod.Entropy}
TYPES = {"quint8": QuantType.QUInt8, "qint8": QuantType.QInt8}


def static(args):
    kwargs = {}
    if args.method:
        kwargs["calibrate_method"] = METHODS[args.method]
    if args.per_channel:
        kwargs["per_channel"] = True
    if args.activation:
        kwargs["activation_type"] = TYPES[args.activation]
    if args.ops:
        kwargs["op_types_to_quantize"] = args.ops.split(",")
    if args.percentile is not None:
        kwargs["extra_options"] = {"CalibPercentile": args.percentile}
    quantize_static(args.model, args.out, NpzReader(args.calib, args.batch_size, args.per_sample), **kwargs)


def dynamic(args):
    kwargs = {}
    if args.per_channel:
        kwargs["per_channel"] = True
    if args.ops:
        kwargs["op_types_to_quantize"] = args.ops.split(",")
    quantize_dynamic(args.model, args.out, **kwargs)


def nbits(args, rest):
    sys.argv = ["matmul_nbits_quantizer", "--input_model", args.model, "--output_model", args.out, *rest]
    runpy.run_module("onnxruntime.quantization.matmul_nbits_quantizer", run_name="__main__", alter_sys=True)


def preprocess(model, tmp):
    """quant_pre_process, then opset 13 at least; returns the path of the model to quantize."""
    from onnx import version_converter
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out = os.path.join(tmp, "preprocessed.onnx")
    cwd = os.getcwd()
    # On a failed shape inference, onnxruntime leaves sym_shape_infer_temp.onnx (and its data) in the
    # working directory: run it inside our temporary folder, which is removed at the end.
    model = os.path.abspath(model)
    os.chdir(tmp)
    try:
        quant_pre_process(model, out)
    except Exception as e:  # noqa: BLE001 - any failure of the optional step: go on without it, as a user would
        print(f"peers: quant_pre_process failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no message'}); going on without it", file=sys.stderr)
        shutil.copyfile(model, out)
    finally:
        os.chdir(cwd)
    m = onnx.load(out)
    constants_to_initializers(m.graph)
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 13:
        m = version_converter.convert_version(m, 13)
    onnx.save(m, out)
    return out


def constants_to_initializers(graph):
    """Constant nodes holding a tensor become initializers of the same name: onnxruntime's quantizers only
    quantize weights that are initializers (paddle2onnx writes them as Constants), and quant_pre_process,
    which does this as part of its graph optimization, fails on some models."""
    kept = []
    for node in graph.node:
        value = next((a for a in node.attribute if a.name == "value" and a.type == onnx.AttributeProto.TENSOR), None)
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and value is not None:
            t = onnx.TensorProto()
            t.CopyFrom(value.t)
            t.name = node.output[0]
            graph.initializer.append(t)
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preprocess", action="store_true")
    sub = ap.add_subparsers(dest="tool", required=True)
    s = sub.add_parser("static")
    s.add_argument("model")
    s.add_argument("out")
    s.add_argument("--calib", required=True)
    s.add_argument("--method", choices=sorted(METHODS))
    s.add_argument("--per-channel", action="store_true")
    s.add_argument("--activation", choices=sorted(TYPES))
    s.add_argument("--ops")
    s.add_argument("--percentile", type=float)
    s.add_argument("--batch-size", type=int, default=32)
    s.add_argument("--per-sample", action="store_true", help="each sample of the .npz is one whole feed (a[i])")
    d = sub.add_parser("dynamic")
    d.add_argument("model")
    d.add_argument("out")
    d.add_argument("--per-channel", action="store_true")
    d.add_argument("--ops")
    n = sub.add_parser("nbits")
    n.add_argument("model")
    n.add_argument("out")
    args, rest = ap.parse_known_args()
    if rest and args.tool != "nbits":
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
    tmp = tempfile.mkdtemp(prefix="peers-")
    try:
        if args.preprocess:
            t0 = time.perf_counter()
            args.model = preprocess(args.model, tmp)
            print(f"peers: pre-processing took {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        if args.tool == "nbits":
            nbits(args, rest)
        else:
            {"static": static, "dynamic": dynamic}[args.tool](args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not os.path.exists(args.out):
        print(f"{args.tool}: no output was written to {args.out}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
