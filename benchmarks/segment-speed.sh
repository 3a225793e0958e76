#!/usr/bin/env bash
# ms per slice of `focusnet segment` on the real 20-slice CT series, at full width and width 0.25,
# with tcmalloc (the shipped build) and with glibc's malloc, in one run on one machine.
# Usage: benchmarks/segment-speed.sh BUILD_DIR [THREADS] [REPEATS]
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR [THREADS] [REPEATS]}
threads=${2:-$(nproc)}
repeats=${3:-3}
source "$(dirname "$0")/common.sh"
series="$shared_data/dicom_samples/ct_series_uids_restored"

for width in 1 0.25; do
  "$build/apps/focusnet" init focusnet "$work/w$width.fnm" --width "$width" > /dev/null
done

# Best of N wall-clock seconds for one command; stdout of the command is discarded.
best_seconds() {
  local best=""
  for _ in $(seq "$repeats"); do
    local start end
    start=$(date +%s.%N)
    "$@" > /dev/null
    end=$(date +%s.%N)
    best=$(echo "$start $end $best" | awk '{ t = $2 - $1; if ($3 == "" || t < $3) print t; else print $3 }')
  done
  echo "$best"
}

slices=20
printf '%-8s %-10s %14s\n' width allocator ms/slice
for width in 1 0.25; do
  declare -A ms=()
  for variant in tcmalloc glibc; do
    exe="$build/apps/focusnet"
    [[ $variant == glibc ]] && exe="$build/benchmarks/focusnet-glibc-malloc"
    seconds=$(best_seconds "$exe" segment "$series" "$work/out.nrrd" --model "$work/w$width.fnm" \
      --threads "$threads" --device cpu --overwrite --quiet)
    ms[$variant]=$(awk -v s="$seconds" -v n="$slices" 'BEGIN { printf "%.1f", 1000 * s / n }')
    printf '%-8s %-10s %14s\n' "$width" "$variant" "${ms[$variant]}"
  done
  awk -v g="${ms[glibc]}" -v t="${ms[tcmalloc]}" -v w="$width" 'BEGIN { printf "width %s: glibc / tcmalloc = %.2fx\n", w, g / t }'
done
echo "(whole command: reading the series, inference, writing; threads=$threads, best of $repeats, $(nproc) cores)"
