#!/usr/bin/env bash
# The README's first command: install the Debian packages, build and install FocusNet into ./install, and
# segment the bundled lung CT slice with the installed default model: a label map and a picture of the
# slice with the segmentation outline, in ./demo-output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dependencies.sh
bash scripts/build.sh -DCMAKE_INSTALL_PREFIX="$PWD/install" -DFOCUSNET_BUILD_TESTING=OFF
cmake --install "${BUILD_DIR:-build}" > /dev/null

mkdir -p demo-output
install/bin/focusnet info install/share/focusnet/models/focusnet-lung.fnm | head -n 7
install/bin/focusnet segment test_data/Input/lung_ct_ID_0000_Z_0142.tif demo-output/lung_ct_label.nrrd \
  --overlay demo-output/lung_ct_outline.png --overwrite
echo "demo: wrote $PWD/demo-output/lung_ct_label.nrrd and $PWD/demo-output/lung_ct_outline.png"
