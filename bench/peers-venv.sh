#!/bin/sh
# The Python side of the peer benchmarks (bench/peers.ts, bench/llm.ts): a venv under .cache/peers-venv
# with onnxruntime's own quantization tools (quantize_static, quantize_dynamic, MatMulNBitsQuantizer; HQQ
# needs torch), and what bench/make_llm.py needs to make Llama-shaped models (transformers, onnxscript).
# The product itself never needs Python.
#
#   sh bench/peers-venv.sh            prints the venv's python on its last line; exit 0 when ready
#
# Idempotent: a venv whose stamp names the same package list is reused at once. Packages come from the
# machine's pip index (a local mirror here): --retries 0 --timeout 3 makes pip give up on an unreachable
# index at once instead of hanging. PEERS_VENV picks another folder. Exits 1 with one line when python3
# or a package is not available.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${PEERS_VENV:-$root/.cache/peers-venv}
packages="onnx==1.23.1 onnxruntime==1.30.0 torch==2.13.0+cpu numpy transformers==5.17.0 onnxscript==0.7.2 onnx_ir"
stamp="$venv/.peers-packages"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$packages" ]; then
  echo "$venv/bin/python"
  exit 0
fi
py=$(command -v python3 || true)
if [ -z "$py" ]; then
  echo "peers-venv: python3 is not on PATH; the peer side of the benchmark is skipped" >&2
  exit 1
fi
if ! [ -x "$venv/bin/python" ]; then
  mkdir -p "$(dirname "$venv")"
  if ! "$py" -m venv "$venv" >&2; then
    echo "peers-venv: '$py -m venv $venv' failed; the peer side of the benchmark is skipped" >&2
    exit 1
  fi
fi
# shellcheck disable=SC2086 # the package list is split on purpose
if ! "$venv/bin/pip" install --quiet --retries 0 --timeout 3 $packages >&2; then
  echo "peers-venv: pip could not install $packages (is the package index reachable?); the peer side of the benchmark is skipped" >&2
  exit 1
fi
echo "$packages" > "$stamp"
echo "$venv/bin/python"
