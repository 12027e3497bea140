#!/usr/bin/env bash
# pixseek's GPU pipeline check (issue 10) as ONE command on a machine with one CUDA GPU, from the repo root:
#
#     bash benchmarks/gpu_run.sh            # results in $OUT (default /tmp/pixseek-gpu-out)
#
# Nothing is installed: the check assumes a machine with no network. It needs python3 with a CUDA
# build of torch, transformers, numpy and Pillow, and torchvision for the nvJPEG path (without it, only
# the CPU-decode path runs and the log says so). pixseek itself need not be installed: the benchmark
# runs from this checkout with PYTHONPATH=src and imports only pixseek modules that need numpy and
# Pillow, not pydantic (which a bare CUDA image often lacks). No model hub either: the model is a
# random-weight ViT-B/32, which has the real one's compute cost.
#
# Writes, under $OUT: gpu_pipeline_nvjpeg.json (nvJPEG decode on the GPU), gpu_pipeline_pil.json
# (pixseek's PIL loader in a process pool feeding the GPU) and gpu_run.log. Each JSON is rewritten after
# every image set, so a run cut short still leaves what it measured. Total time is bounded at about
# 7 minutes (timeouts 240 s + 150 s, plus a few seconds of setup).
set -u -o pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-${TMPDIR:-/tmp}/pixseek-gpu-out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
DATA=${TMPDIR:-/tmp}/pixseek-gpu-jpegs  # on local disk; made by the first run, reused by the second

{
  date -u +"start %Y-%m-%dT%H:%M:%SZ"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true
  "$PY" - <<'EOF'
import importlib, sys
print("python", sys.version.split()[0])
for name in ("torch", "torchvision", "transformers", "numpy", "PIL"):
    try:
        print(name, importlib.import_module(name).__version__)
    except Exception as exc:  # report, never stop: the benchmark says which path it can run
        print(name, "MISSING:", type(exc).__name__, exc)
import torch
print("cuda available:", torch.cuda.is_available())
EOF
  # The GPU path: nvJPEG (falls back to the CPU-decode path, and says so in its JSON, without torchvision).
  timeout -k 10 240 "$PY" benchmarks/gpu_pipeline.py --device cuda --decode auto --seconds 15 \
    --data "$DATA" --json "$OUT/gpu_pipeline_nvjpeg.json"
  echo "nvjpeg run exit: $?"
  # The CPU-decode path on the same machine, for comparison.
  timeout -k 10 150 "$PY" benchmarks/gpu_pipeline.py --device cuda --decode pil --seconds 10 \
    --data "$DATA" --json "$OUT/gpu_pipeline_pil.json"
  echo "pil run exit: $?"
  rm -rf "$DATA"
  date -u +"end %Y-%m-%dT%H:%M:%SZ"
} 2>&1 | tee "$OUT/gpu_run.log"
