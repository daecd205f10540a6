"""onnxruntime's own static quantization (onnxruntime.quantization.quantize_static) on a model and a folder of
calibration batches: the peer that bench/calibration.ts measures `compress quantize --data` against.

    python bench/ort_static.py MODEL CALIB_DIR OUT --method minmax|percentile|entropy [--per-channel]

CALIB_DIR holds batch_<k>.npy files, fed in order as the model's first input (one forward pass per file).
Written as onnxruntime's documentation shows for a CNN: QDQ, uint8 activations, int8 weights, batches
collected one at a time (extra option CalibStridedMinMax=1; without it the histogram calibrators hold every
intermediate output of the whole set in memory), each calibration method at onnxruntime's own defaults (percentile 99.999 with symmetric ranges; entropy with 128
bins and 128 quantized bins). Two preparations a user must make by hand first, or quantize_static writes a
model onnxruntime refuses: Constant nodes become initializers (paddle2onnx writes weights as Constants), and
an opset below 13 is raised to 13 (onnx.version_converter) for per-channel DequantizeLinear.

Prints one JSON line: {"ok": true, "seconds": <quantize_static wall time>, "peakRssMB": <this process>} or
{"ok": false, "error": "..."}.
Needs python with onnx and onnxruntime (bench only; the product never runs Python).
"""
import argparse
import contextlib
import glob
import json
import os
import resource
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper, version_converter
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static


class Batches(CalibrationDataReader):
    def __init__(self, folder, name):
        self.files = sorted(glob.glob(os.path.join(folder, "batch_*.npy")), key=lambda f: int(f.rsplit("_", 1)[1][:-4]))
        self.name = name
        self.i = 0
        self.end = len(self.files)

    def __len__(self):
        return len(self.files)

    def set_range(self, start_index, end_index):
        self.i = start_index
        self.end = min(end_index, len(self.files))

    def get_next(self):
        if self.i >= self.end:
            return None
        self.i += 1
        return {self.name: np.load(self.files[self.i - 1])}


def constants_to_initializers(model):
    """Constant nodes of the main graph whose output is a tensor become initializers of the same name."""
    keep = []
    for node in model.graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            t = numpy_helper.from_array(numpy_helper.to_array(node.attribute[0].t), node.output[0])
            model.graph.initializer.append(t)
        else:
            keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("calib")
    ap.add_argument("out")
    ap.add_argument("--method", choices=["minmax", "percentile", "entropy"], default="minmax")
    ap.add_argument("--per-channel", action="store_true")
    a = ap.parse_args()
    try:
        model = constants_to_initializers(onnx.load(a.model))
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        if opset < 13:
            model = version_converter.convert_version(model, 13)
        prepared = a.out + ".prepared.onnx"
        onnx.save(model, prepared)
        name = model.graph.input[0].name
        method = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile, "entropy": CalibrationMethod.Entropy}[a.method]
        t0 = time.time()
        with contextlib.redirect_stdout(sys.stderr):  # its progress prints stay off our one JSON line
            quantize_static(
                prepared,
                a.out,
                Batches(a.calib, name),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=a.per_channel,
                calibrate_method=method,
                # One batch at a time: without it the histogram calibrators keep every intermediate output of
                # every batch in memory at once (ppocr-rec-v4 on 64 lines: killed at 20 GB).
                extra_options={"CalibStridedMinMax": 1},
            )
        seconds = time.time() - t0
        os.remove(prepared)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # Linux: kilobytes
        print(json.dumps({"ok": True, "seconds": seconds, "peakRssMB": peak}))
    except Exception as e:  # noqa: BLE001 -- the bench reports the peer's failure in its table
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]}))
        sys.exit(0)


if __name__ == "__main__":
    main()
