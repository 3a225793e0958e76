#!/bin/bash
# Debian packages of FocusNet from a build folder (default: build/, made by scripts/build.sh):
#   bash scripts/package.sh [BUILD_DIR] [OUTPUT_DIR]
# writes focusnet_<version>_amd64.deb and focusnet-dev_<version>_amd64.deb to OUTPUT_DIR (default: BUILD_DIR/packages)
# and prints their names. Install with: apt-get install ./focusnet_<version>_amd64.deb
set -euo pipefail
build=$(realpath "${1:-build}")
output=$(realpath -m "${2:-$build/packages}")
if [ ! -f "$build/CPackConfig.cmake" ]; then
  echo "package.sh: $build: not a configured FocusNet build folder (no CPackConfig.cmake); run scripts/build.sh" >&2
  exit 1
fi
cmake --build "$build"
mkdir -p "$output"
rm -rf "$output/.cpack" "$output"/focusnet_*.deb "$output"/focusnet-dev_*.deb # no package of an older version stays
(cd "$build" && cpack --config CPackConfig.cmake -B "$output/.cpack" > "$output/.cpack.log" 2>&1) || {
  cat "$output/.cpack.log" >&2
  echo "package.sh: cpack failed (log above)" >&2
  exit 1
}
mv "$output"/.cpack/*.deb "$output"/
rm -rf "$output/.cpack" "$output/.cpack.log"
ls "$output"/*.deb
