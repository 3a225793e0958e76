#!/usr/bin/env bash
# Series per minute of `focusnet batch` with the default lung model on a folder tree assembled from the real
# DICOM samples (the 20-slice CT twice, once with blanked UIDs, the 6-slice MR, 5 single files), writing label
# maps and DICOM SEG. Baseline in the same run: one series at a time (--jobs 1) against two (--jobs 2).
# Usage: benchmarks/batch-throughput.sh BUILD_DIR [THREADS]
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR [THREADS]}
threads=${2:-$(nproc)}
source "$(dirname "$0")/common.sh"
samples="$shared_data/dicom_samples"
model="$here/../test_data/models/focusnet-lung.fnm"

mkdir -p "$work/in"
for folder in ct_series_uids_restored ct_series_totalsegmentator mr_series_babymri single; do
  cp -r "$samples/$folder" "$work/in/"
done
slices=$(find "$work/in" -type f | wc -l)

printf '%-8s %8s %10s %12s\n' jobs series seconds series/min
declare -A rate=()
for jobs in 1 2; do
  start=$(date +%s.%N)
  "$build/apps/focusnet" batch "$work/in" "$work/out$jobs" --model "$model" --threads "$threads" --jobs "$jobs" \
    --quiet > "$work/log$jobs"
  end=$(date +%s.%N)
  series=$(awk -F, 'NR > 1 && ($1 == "ok" || $1 == "partial")' "$work/out$jobs/summary.csv" | wc -l)
  rate[$jobs]=$(awk -v s="$start" -v e="$end" -v n="$series" 'BEGIN { printf "%.1f", 60 * n / (e - s) }')
  printf '%-8s %8s %10.2f %12s\n' "$jobs" "$series" "$(echo "$start $end" | awk '{ print $2 - $1 }')" "${rate[$jobs]}"
done
echo "files: $slices; threads: $threads; jobs 2 / jobs 1: $(awk -v a="${rate[2]}" -v b="${rate[1]}" 'BEGIN { printf "%.2fx", a / b }')"
