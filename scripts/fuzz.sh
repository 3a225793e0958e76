#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/) with clang's libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer in
# build-fuzz/, runs each for SECONDS seconds (default 600) on its kept corpus (fuzz/corpus/TARGET.tar.gz, unpacked
# into build-fuzz/corpus/TARGET), merges what adds coverage into it (-merge=1) and packs it again. Crashes are
# written to build-fuzz/crashes/. Needs Debian's clang (clang-14).
# Targets run side by side, one per core. Exits non-zero when one found a crash.
# Usage: scripts/fuzz.sh [SECONDS [TARGET...]]   TARGET: Metadata ModelFile DicomFile SlicerCommandLine (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(Metadata ModelFile DicomFile SlicerCommandLine)
build=${FUZZ_BUILD_DIR:-build-fuzz}
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFOCUSNET_FUZZ=ON \
  -DFOCUSNET_SANITIZE=address,undefined -DFOCUSNET_USE_TCMALLOC=OFF -DFOCUSNET_BUILD_PYTHON=OFF \
  -DFOCUSNET_BUILD_VTK=OFF -DFOCUSNET_BUILD_TESTING=OFF >/dev/null
cmake --build "$build" --target "${targets[@]/#/focusnetFuzz}"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p "$build/crashes"
# One target per core at a time; each writes its log to build-fuzz/TARGET.log.
run_target() {
  local target=$1 found="$build/found/$1" binary="$build/fuzz/focusnetFuzz$1" corpus="$build/corpus/$1"
  rm -rf "$corpus" "$build/crashes/$target-"* && mkdir -p "$found" "$corpus"
  tar -xzf "fuzz/corpus/$target.tar.gz" -C "$corpus"
  # New inputs are kept small (4 KiB: headers, JSON), so that the corpus fits in the repository; the seeds stay whole.
  "$binary" -max_total_time="$seconds" -max_len=4096 -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$build/crashes/$target-" "$found" "$corpus" >"$build/$target.log" 2>&1 || true
  "$binary" -merge=1 -max_len=4096 -artifact_prefix="$build/crashes/$target-merge-" "$corpus" "$found" \
    >>"$build/$target.log" 2>&1
  # Reproducible archives: sorted names, no times or owners.
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$corpus" -cf - . | gzip -n -9 \
    >"fuzz/corpus/$target.tar.gz"
}
running=0
for target in "${targets[@]}"; do
  run_target "$target" &
  running=$((running + 1))
  if [ "$running" -ge "$(nproc)" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait
status=0
for target in "${targets[@]}"; do
  log="$build/$target.log"
  echo "== $target: $(grep -m1 -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$') executions in" \
    "$seconds s, $(grep -o 'MERGE-OUTER: [0-9]* new files' "$log" | grep -o '[0-9]* new') corpus files kept"
  if ls "$build/crashes/$target-"* >/dev/null 2>&1; then
    echo "   findings: $(ls "$build/crashes/$target-"*)"
    grep -m3 -E "ERROR: (AddressSanitizer|libFuzzer)|runtime error" "$log" || true
    status=1
  fi
done
exit $status
