#!/usr/bin/env bash
# The README's test command: install the Debian packages, build, and run every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dependencies.sh
bash scripts/build.sh -DFOCUSNET_BUILD_TESTING=ON
ctest --test-dir "${BUILD_DIR:-build}" --parallel "$(nproc)" --output-on-failure --timeout 600
