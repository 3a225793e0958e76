#!/usr/bin/env bash
# Builds the project and its tests with AddressSanitizer and UndefinedBehaviorSanitizer (build-sanitize/) and runs
# the suite. Any finding stops the test that made it (-fno-sanitize-recover). tcmalloc is off: AddressSanitizer
# brings its own allocator. The Python module is instrumented too, and the suites that import it run Python with the
# AddressSanitizer runtime preloaded (tests/CMakeLists.txt).
# LibTorch's tensors stay on AddressSanitizer's allocator (FOCUSNET_KEEP_TENSOR_MEMORY=0): the tensor-memory tests
# switch the project's own large-tensor allocator on for themselves, so it is checked too.
# Leak checking is off: LibTorch, ITK and VTK keep process-lifetime allocations (registries, factories) that
# LeakSanitizer would report at exit. No suppressions are needed otherwise. CI (.ci/run) runs the whole suite this
# way after the ordinary one.
# With --libraries, only the libraries' own tests (ctest label "library": core, ITK filter, IO, DICOM, the fuzz corpus
# replays) are built and run.
# FOCUSNET_STRICT=1 (CI) as in scripts/test.sh: anything left out is a configure error, a skipped test or an unlisted
# pytest skip fails.
# Usage: scripts/sanitize.sh [--libraries] [ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SANITIZE_BUILD_DIR:-build-sanitize}
targets=()
# Not here: the installed-package consumer compiles a project of its own without the sanitizer runtime, and the Slicer
# extension is built by its test as Slicer's factory builds it, uninstrumented.
selection=(-E "InstalledPackageConsumer|FocusNetSlicerExtension")
if [ "${1:-}" = "--libraries" ]; then
  shift
  targets=(--target focusnetCoreTests focusnetITKFilterTests focusnetIOTests focusnetDicomTests
    focusnetFuzzMetadata focusnetFuzzModelFile focusnetFuzzDicomFile focusnetFuzzSlicerCommandLine)
  selection=(-L library)
fi
strict=OFF
if [[ ${FOCUSNET_STRICT:-0} == 1 ]]; then strict=ON; fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFOCUSNET_SANITIZE=address,undefined \
  -DFOCUSNET_USE_TCMALLOC=OFF -DFOCUSNET_BUILD_PYTHON=ON -DFOCUSNET_BUILD_TESTING=ON \
  -DFOCUSNET_REQUIRE_ALL_TESTS=$strict \
  -DFOCUSNET_SHARED_DATA_DIR="${FOCUSNET_SHARED_DATA_DIR:-$PWD/../shared/data}"
cmake --build "$build" "${targets[@]}"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export FOCUSNET_KEEP_TENSOR_MEMORY=0
bash scripts/run-ctest.sh "$build" --timeout 1800 "${selection[@]}" "$@"
