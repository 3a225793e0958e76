#!/usr/bin/env bash
# The README's test command: install the Debian packages, build, and run every test with ctest.
# FOCUSNET_STRICT=1 (CI, .ci/run): nothing may go missing. Anything left out of the build or the tests is a configure
# error (-DFOCUSNET_REQUIRE_ALL_TESTS=ON), a pytest skip not on tests/allowed-skips.txt fails its test, no registered
# test may be skipped, and ctest fails when it finds no tests.
set -euo pipefail
cd "$(dirname "$0")/.."
strict=OFF
if [[ ${FOCUSNET_STRICT:-0} == 1 ]]; then strict=ON; fi
bash scripts/install-dependencies.sh
bash scripts/build.sh -DFOCUSNET_BUILD_TESTING=ON -DFOCUSNET_REQUIRE_ALL_TESTS=$strict
bash scripts/run-ctest.sh "${BUILD_DIR:-build}" --timeout 600
