#!/usr/bin/env bash
# Builds and packages the 3D Slicer extension FocusNet as Slicer's extension factory does, against a Slicer SDK
# stand-in assembled from Slicer's own CMake files (../shared/tools/slicer-sdk; what it stands in for is in its README):
# a clone of this working tree (its tracked and untracked, not ignored, files, committed, with an origin) configured
# at its root with -DSlicer_DIR, built, and packaged with cpack. Also builds slicer-command-line against the SDK's
# SlicerExecutionModel. Everything goes to WORK_DIR; test_slicer_package.py checks the results.
#
# Usage: build-extension.sh SOURCE_DIR SHARED_DIR WORK_DIR
set -euo pipefail
source_dir=$(cd "$1" && pwd) shared_dir=$(cd "$2" && pwd) work=$3
mkdir -p "$work"
work=$(cd "$work" && pwd)
jobs=${JOBS:-$(nproc)}
step() { echo "build-extension: $* ($(date +%T))"; }

step "Slicer SDK stand-in in $work/sdk"
sdk=$("$shared_dir/tools/slicer-sdk/build-sdk.sh" "$work/sdk")
CMAKE=$(sed -n 's/^CMAKE=//p' <<<"$sdk")
Slicer_DIR=$(sed -n 's/^Slicer_DIR=//p' <<<"$sdk")
[[ -x $CMAKE && -d $Slicer_DIR ]] || { echo "build-extension: build-sdk.sh gave no CMAKE and Slicer_DIR" >&2; exit 1; }

step "a clone of $source_dir"
clone=$work/FocusNet
rm -rf "$clone" "$work/build" "$work/package"
mkdir -p "$clone"
(cd "$source_dir" && git ls-files -z --cached --others --exclude-standard |
  xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh | tar --null -T - -cf -) | tar -xf - -C "$clone"
git -C "$clone" init -q -b main
git -C "$clone" add -A
git -C "$clone" -c user.name="FocusNet CI" -c user.email=ci@focusnet.invalid commit -q -m "The extension as built"
git -C "$clone" remote add origin https://example.org/focusnet/FocusNet.git

step "configure against $Slicer_DIR"
"$CMAKE" -S "$clone" -B "$work/build" -G Ninja -DSlicer_DIR="$Slicer_DIR" -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_TESTING=ON >"$work/configure.log" 2>&1 || { tail -40 "$work/configure.log" >&2; exit 1; }
step "build"
"$CMAKE" --build "$work/build" --parallel "$jobs" >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; exit 1; }
step "cpack"
(cd "$work/build" && "$(dirname "$CMAKE")/cpack") >"$work/cpack.log" 2>&1 || { tail -40 "$work/cpack.log" >&2; exit 1; }
(cd "$work/build" && "$(dirname "$CMAKE")/ctest" -N) >"$work/ctest-list.txt" 2>&1

step "slicer-command-line against SlicerExecutionModel"
"$CMAKE" -S "$source_dir/tests/slicer_package/slicer_command_line" -B "$work/slicer-command-line" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DModuleDescriptionParser_DIR="$work/sdk/SlicerExecutionModel-build/ModuleDescriptionParser" \
  >"$work/slicer-command-line.log" 2>&1 &&
  "$CMAKE" --build "$work/slicer-command-line" >>"$work/slicer-command-line.log" 2>&1 ||
  { tail -40 "$work/slicer-command-line.log" >&2; exit 1; }
{
  echo "CMAKE=$CMAKE"
  echo "Slicer_DIR=$Slicer_DIR"
  echo "CLONE=$clone"
  echo "BUILD=$work/build"
  echo "SLICER_COMMAND_LINE=$work/slicer-command-line/slicer-command-line"
} >"$work/built.env"
step "done"
