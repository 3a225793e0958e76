#!/usr/bin/env bash
# Training images/s of focusnet-train in the default lung configuration (FocusNet width 0.25 with at least
# 16 channels, 256 x 256, batch 8, the paper's augmentation) on the real lung CT pairs, for FocusNet and the U-Net baseline.
# Usage: benchmarks/training-speed.sh BUILD_DIR [THREADS] [SAMPLES]
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR [THREADS] [SAMPLES]}
threads=${2:-$(nproc)}
samples=${3:-96}
source "$(dirname "$0")/common.sh"
data="$shared_data/kaggle_lung_ct_2d"

printf '%-10s %8s %12s\n' network samples images/s
for architecture in focusnet unet; do
  "$build/training/focusnet-train" --images "$data/images" --masks "$data/masks" --output "$work/$architecture" \
    --architecture "$architecture" --width 0.25 --min-channels 16 --size 256 --epochs 1 --epoch-size "$samples" \
    --threads "$threads" --device cpu > /dev/null
  # log.csv: the last column is training images/s of the epoch (augmentation, forward, backward, update).
  rate=$(tail -n 1 "$work/$architecture/log.csv" | awk -F, '{ printf "%.2f", $NF }')
  printf '%-10s %8s %12s\n' "$architecture" "$samples" "$rate"
done
echo "(width 0.25, at least 16 channels, 256 x 256, batch 8, threads=$threads, $(nproc) cores; excludes loading the data and validation)"
