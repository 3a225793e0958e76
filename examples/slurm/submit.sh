#!/bin/bash
# Submits a FocusNet batch run to Slurm: an array of N tasks, then the merge step once they have all ended.
#
#   examples/slurm/submit.sh N INPUT_ROOT OUTPUT_ROOT [focusnet batch options]
#
# Prints the two job IDs. Run it again to resume: finished series are skipped. Extra sbatch options go in
# $SBATCH_OPTIONS (e.g. "--partition=gpu --gres=gpu:1", with --device cuda among the batch options).
set -euo pipefail

if (($# < 3)); then
  echo "usage: $0 N INPUT_ROOT OUTPUT_ROOT [focusnet batch options]" >&2
  exit 2
fi
shards=$1 input=$2 output=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
# --modality selects in the merge as in the tasks.
merge_options=()
for ((i = 1; i <= $#; ++i)); do
  if [[ ${!i} == --modality ]]; then
    next=$((i + 1))
    merge_options+=(--modality "${!next}")
  fi
done
# shellcheck disable=SC2086 # SBATCH_OPTIONS holds several options
array=$(sbatch --parsable ${SBATCH_OPTIONS:-} --array="0-$((shards - 1))" --export="ALL,FOCUSNET_SHARDS=$shards" \
  "$here/focusnet-batch.sbatch" "$input" "$output" "$@")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterany:$array" "$here/focusnet-merge.sbatch" "$input" "$output" \
  "${merge_options[@]}")
echo "array $array merge ${merge%%;*}"
