#!/usr/bin/env bash
# The one-shot GPU check (issue 17): on a GPU machine with no network and no ITK, DCMTK or VTK, builds the core and
# the engine's benchmarks against the machine's own LibTorch (its Python environment's), twice: this checkout's core
# and the baseline's (an earlier commit, carried), then prints, in one run on one GPU:
#   1. 512 x 512 slices from host memory, probabilities back: InferenceEngine::Predict at fp32, bf16 and fp16, the
#      baseline's bf16, and the same network in PyTorch eager (fp32; bf16 autocast + channels-last), in slices/s;
#   2. the real lung slices: label maps of bf16 and fp16 against fp32 (pooled Dice), and against the manual masks;
#   3. each of the engine's speed-ups turned off alone (FOCUSNET_ENGINE_DISABLE), full width, bf16, 512 x 512;
#   4. 256 x 256 slices (the network's size, no resampling) at batches 16 and 64, as the issue's first figures.
# The most wanted come first, and each row is printed when measured: a run cut short still reports.
#
#   benchmarks/gpu/run.sh [DEVICE]     DEVICE: cuda (default); cpu tries the script on a machine without a GPU
#   environment: PYTHON (python3), NETWORKS ("1 default": full width, the default model), REPEATS (3),
#   SLICES (256 slices a repeat), GPU_BUILD_DIR (build-gpu), SKIP ("": any of base, agreement, ablation, small),
#   SMALL_NETWORKS (NETWORKS: those of table 4)
#
# What the GPU machine lacks travels with the checkout: benchmarks/gpu/prepare.sh fills benchmarks/gpu/carry/
# (ignored by git), and the device call carries that folder:
#   run(command="benchmarks/gpu/run.sh", carry=["benchmarks/gpu/carry"], timeout_s=540)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
device=${1:-cuda}
python=${PYTHON:-python3}
networks=${NETWORKS:-1 default}
repeats=${REPEATS:-3}
slices=${SLICES:-256}
build=${GPU_BUILD_DIR:-$root/build-gpu}
skip=" ${SKIP:-} "
model="$root/test_data/models/focusnet-lung.fnm"
t0=$(date +%s)
elapsed() { echo "$(($(date +%s) - t0)) s"; }

torch_dir=$("$python" -c 'import os, torch; print(os.path.join(torch.utils.cmake_prefix_path, "Torch"))')
echo "== $(date -u +%FT%TZ) $(uname -n); $("$python" -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())')"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
grep -m1 "model name" /proc/cpuinfo

# build NAME CORE_DIR: the core at CORE_DIR and the benchmark programs into $build/NAME (C++17, else C++20)
build() {
  local out="$build/$1" standard
  for standard in 17 20; do
    if cmake -S "$here" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$torch_dir" \
      -DCMAKE_CXX_STANDARD=$standard -DFOCUSNET_CORE_DIR="$2" -DNLOHMANN_JSON_INCLUDE_DIR="$here/carry/include" \
      >"$out.log" 2>&1 && cmake --build "$out" -j "$(nproc)" >>"$out.log" 2>&1; then
      echo "built $1 (C++$standard) at $(elapsed)"
      return 0
    fi
    rm -rf "$out"
  done
  echo "BUILD FAILED: $1"; grep -m5 -A3 "error" "$out.log"; tail -n 5 "$out.log"
  return 1
}
mkdir -p "$build"
build new "$root/core" || exit 1
has_base=0
if [[ $skip != *" base "* && -d $here/carry/baseline/core ]] && build base "$here/carry/baseline/core"; then
  has_base=1
fi

# rate BUILD NETWORK BATCH PRECISION SIZE: slices/s of the engine's median, or why it did not run
rate() {
  local line
  if line=$("$build/$1/focusnet-engine-speed" "$2" "$3" 0 "$repeats" "$4" "$device" "$5" "$slices" 2>&1); then
    awk '{ printf "%.1f", 1000 / $2 }' <<<"$line"
  else
    echo "failed: $(tail -n 1 <<<"$line" | cut -c1-100)"
  fi
}
# If a speed-up fails on this machine, the rest still gets measured without it (and says so).
for off in "" fuse fuse,overlap fuse,overlap,channels_last; do
  if FOCUSNET_ENGINE_DISABLE=$off "$build/new/focusnet-engine-speed" 0.25 8 0 1 fp32 "$device" 512 8 >/dev/null 2>"$build/probe.log" &&
    FOCUSNET_ENGINE_DISABLE=$off "$build/new/focusnet-engine-speed" 0.25 8 0 1 bf16 "$device" 512 8 >/dev/null 2>>"$build/probe.log"; then
    [ -n "$off" ] && echo "NOTE: the engine failed with every speed-up on; measuring with FOCUSNET_ENGINE_DISABLE=$off"
    export FOCUSNET_ENGINE_DISABLE=$off
    break
  fi
  echo "probe with FOCUSNET_ENGINE_DISABLE='$off' failed: $(tail -n 2 "$build/probe.log" | cut -c1-300)"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }
network_of() { [ "$1" = default ] && echo "$model" || echo "$1"; }
name_of() { [ "$1" = default ] && echo "default model" || echo "width $1"; }
base_rate() { if ((has_base)); then rate base "$@"; else echo "-"; fi; }

echo
echo "## 1. 512 x 512 slices in, probabilities out (batch 32; slices/s)"
echo "| network | engine fp32 | engine bf16 | engine fp16 | baseline bf16 | PyTorch fp32 | PyTorch bf16 + channels-last | engine bf16 / PyTorch bf16 | engine bf16 / baseline bf16 |"
echo "|---|---|---|---|---|---|---|---|---|"
for network in $networks; do
  what=$(network_of "$network")
  fp32=$(rate new "$what" 32 fp32 512)
  bf16=$(rate new "$what" 32 bf16 512)
  fp16=$(rate new "$what" 32 fp16 512)
  base=$(base_rate "$what" 32 bf16 512)
  read -r _ anchor32 anchor16 < <("$python" "$here/anchor.py" "$what" 32 "$device" "$repeats" 512 "$slices")
  echo "| $(name_of "$network") | $fp32 | $bf16 | $fp16 | $base | $anchor32 | $anchor16 | $(ratio "$bf16" "$anchor16") | $(ratio "$bf16" "$base") |"
done
echo "($(elapsed))"

if [[ $skip != *" agreement "* && -f $here/carry/lung/slices.i16.xz ]]; then
  echo
  echo "## 2. Precisions on the real lung slices (default model, 512 x 512, batch 32)"
  lung=$(mktemp -d)
  xz -dc "$here/carry/lung/slices.i16.xz" >"$lung/slices.i16" && xz -dc "$here/carry/lung/masks.u8.xz" >"$lung/masks.u8"
  "$build/new/focusnet-precision-agreement" "$model" "$lung/slices.i16" "$lung/masks.u8" 512 512 "$device" 32 2>&1
  echo "($(elapsed))"
fi

if [[ $skip != *" ablation "* ]]; then
  echo
  echo "## 3. One speed-up off at a time (full width, bf16, 512 x 512, batch 32; slices/s)"
  echo "| off | slices/s | / all on |"
  echo "|---|---|---|"
  all=$(rate new 1 32 bf16 512)
  echo "| (none) | $all | 1.00 |"
  for off in fold fuse channels_last cudnn_benchmark overlap; do
    one=$(FOCUSNET_ENGINE_DISABLE=$off rate new 1 32 bf16 512)
    echo "| $off | $one | $(ratio "$one" "$all") |"
  done
  echo "($(elapsed))"
fi

if [[ $skip != *" small "* ]]; then
  echo
  echo "## 4. 256 x 256 slices in (the network's size), probabilities out (slices/s)"
  echo "| network | batch | engine fp32 | engine bf16 | engine fp16 | baseline fp32 | baseline bf16 | PyTorch fp32 | PyTorch bf16 + channels-last | engine bf16 / PyTorch bf16 |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for network in ${SMALL_NETWORKS:-$networks}; do
    what=$(network_of "$network")
    for batch in 16 64; do
      fp32=$(rate new "$what" $batch fp32 256)
      bf16=$(rate new "$what" $batch bf16 256)
      fp16=$(rate new "$what" $batch fp16 256)
      base32=$(base_rate "$what" $batch fp32 256)
      base16=$(base_rate "$what" $batch bf16 256)
      read -r _ anchor32 anchor16 < <("$python" "$here/anchor.py" "$what" $batch "$device" "$repeats" 256 "$slices")
      echo "| $(name_of "$network") | $batch | $fp32 | $bf16 | $fp16 | $base32 | $base16 | $anchor32 | $anchor16 | $(ratio "$bf16" "$anchor16") |"
    done
  done
fi
echo
echo "slices/s: medians of $repeats passes over $slices slices (whole batches) after a warm-up batch; baseline:" \
  "$(cat "$here/carry/baseline/commit" 2>/dev/null || echo none); $(elapsed) in all"
