#!/usr/bin/env bash
# Runs ctest over a build folder for scripts/test.sh and scripts/sanitize.sh: in parallel, failing when it finds no
# tests, its output also in BUILD_DIR/ctest-output.txt. With FOCUSNET_STRICT=1 a test that ctest skipped fails the run
# too (nothing may go missing in CI).
# Usage: scripts/run-ctest.sh BUILD_DIR [ctest arguments]
set -euo pipefail
build_dir=$1
shift
log="$build_dir/ctest-output.txt"
set +e
ctest --test-dir "$build_dir" --parallel "$(nproc)" --output-on-failure --no-tests=error "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [[ ${FOCUSNET_STRICT:-0} == 1 ]] && grep -q "The following tests did not run" "$log"; then
  echo "$0: a test was skipped (FOCUSNET_STRICT=1): nothing may go missing in CI" >&2
  exit 1
fi
exit "$status"
