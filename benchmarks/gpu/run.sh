#!/usr/bin/env bash
# The one-shot GPU check (issue 17): on a GPU machine with no network and no ITK, DCMTK or VTK, builds the core and
# the engine benchmark against the machine's own LibTorch (its Python environment's), then prints, in one run on one
# GPU, slices/s of InferenceEngine::Predict (256 x 256 slices from host memory, probabilities back) at fp32, bf16 and
# fp16 beside the same network in PyTorch eager (fp32, and bf16 autocast + channels-last), full width and the default
# model's width.
#
#   benchmarks/gpu/run.sh [DEVICE]     DEVICE: cuda (default); cpu tries the script on a machine without a GPU
#   environment: PYTHON (python3), NETWORKS ("1 default": full width, the default model), BATCHES ("16 64"),
#   REPEATS (5), GPU_BUILD_DIR (build-gpu)
#
# What the GPU machine lacks travels with the checkout: benchmarks/gpu/prepare.sh copies nlohmann_json's headers into
# benchmarks/gpu/carry/ (ignored by git), and the device call carries that folder:
#   run(command="benchmarks/gpu/run.sh", carry=["benchmarks/gpu/carry"], timeout_s=480)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
device=${1:-cuda}
python=${PYTHON:-python3}
networks=${NETWORKS:-1 default}
batches=${BATCHES:-16 64}
repeats=${REPEATS:-5}
build=${GPU_BUILD_DIR:-$root/build-gpu}

torch_dir=$("$python" -c 'import os, torch; print(os.path.join(torch.utils.cmake_prefix_path, "Torch"))')
echo "== $(date -u +%FT%TZ) $(uname -n); $("$python" -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda)')"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
fi
start=$(date +%s)
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$torch_dir" \
  -DNLOHMANN_JSON_INCLUDE_DIR="$here/carry/include" >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" >"$build.build.log" 2>&1 || { tail -n 40 "$build.build.log"; exit 1; }
echo "built in $(($(date +%s) - start)) s"

engine="$build/focusnet-engine-speed"
model="$root/test_data/models/focusnet-lung.fnm"
rate() { # slices/s from the engine's median ms per slice, or what refused it
  local line
  if line=$("$engine" "$@" 2>&1); then
    awk '{ printf "%.1f", 1000 / $2 }' <<<"$line"
  else
    echo "refused: ${line##*: }" | cut -c1-60
  fi
}
echo
echo "| network | batch | engine fp32 | engine bf16 | engine fp16 | PyTorch fp32 | PyTorch bf16 + channels-last | engine bf16 / PyTorch bf16 |"
echo "|---|---|---|---|---|---|---|---|"
for network in $networks; do
  what=$([ "$network" = default ] && echo "$model" || echo "$network")
  name=$([ "$network" = default ] && echo "default model" || echo "width $network")
  for batch in $batches; do
    fp32=$(rate "$what" "$batch" 0 "$repeats" fp32 "$device")
    bf16=$(rate "$what" "$batch" 0 "$repeats" bf16 "$device")
    fp16=$(rate "$what" "$batch" 0 "$repeats" fp16 "$device")
    read -r _ anchor32 anchor16 < <("$python" "$here/anchor.py" "$what" "$batch" "$device" "$repeats")
    ratio=$(awk -v a="$bf16" -v b="$anchor16" 'BEGIN { if (a + 0 > 0) printf "%.2f", a / b; else print "-" }')
    echo "| $name | $batch | $fp32 | $bf16 | $fp16 | $anchor32 | $anchor16 | $ratio |"
  done
done
echo
echo "slices/s, 256 x 256, medians of $repeats passes over max(batch, 8) (engine) or max(batch, 64) (PyTorch) slices;" \
  "$(($(date +%s) - start)) s in all"
