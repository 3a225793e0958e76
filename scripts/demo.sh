#!/usr/bin/env bash
# The README's first command: install the Debian packages, build and install FocusNet into ./install,
# and segment the bundled lung CT slice with the installed default model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dependencies.sh
bash scripts/build.sh -DCMAKE_INSTALL_PREFIX="$PWD/install"
cmake --install "${BUILD_DIR:-build}" > /dev/null

focusnet="$PWD/install/bin/focusnet"
model="$PWD/install/share/focusnet/models/focusnet-lung.fnm"
mkdir -p demo-output
if [[ ! -f $model ]]; then
  echo "demo: no trained default model is installed yet; using an untrained FocusNet (the label map is not meaningful)"
  model=demo-output/untrained-focusnet.fnm
  "$focusnet" init focusnet "$model" --width 0.25 > /dev/null
fi
"$focusnet" info "$model" | head -n 5
"$focusnet" segment test_data/Input/lung_ct_ID_0000_Z_0142.tif demo-output/lung_ct_label.nrrd \
  --model "$model" --overwrite
echo "demo: wrote $PWD/demo-output/lung_ct_label.nrrd"
