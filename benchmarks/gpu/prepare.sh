#!/usr/bin/env bash
# Copies what benchmarks/gpu/run.sh needs and a GPU machine lacks into benchmarks/gpu/carry/ (ignored by git):
# - include/: the nlohmann_json headers of this machine (Debian's nlohmann-json3-dev);
# - baseline/: the core's sources at BASELINE (a commit; default: the engine before its GPU path was tuned), which
#   run.sh builds beside this checkout's core to measure both in one run; with this checkout's
#   focusnetTensorMemory.cxx, which also builds against LibTorch 2.3 and later (their c10::Allocator changed);
# - lung/: every other Kaggle lung slice of ../shared/data (107 of 214, in name order) as raw int16 (xz-compressed)
#   with their masks as raw uint8: all 214 do not fit in what a device call carries (64 MiB; CT noise does not
#   compress below about 0.3 MB a slice).
#
#   benchmarks/gpu/prepare.sh [BASELINE]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
baseline=${1:-a17b201}
data=${FOCUSNET_SHARED_DATA_DIR:-$root/../shared/data}/kaggle_lung_ct_2d
rm -rf "$here/carry" && mkdir -p "$here/carry/include" "$here/carry/baseline" "$here/carry/lung"
cp -r /usr/include/nlohmann "$here/carry/include/"
git -C "$root" archive "$baseline" core | tar -x -C "$here/carry/baseline"
cp "$root/core/src/focusnetTensorMemory.cxx" "$here/carry/baseline/core/src/"
git -C "$root" rev-parse --short "$baseline" >"$here/carry/baseline/commit"
/usr/bin/python3 - "$data" "$here/carry/lung" <<'PY'
import sys
from pathlib import Path

import numpy as np
from PIL import Image

data, out = Path(sys.argv[1]), Path(sys.argv[2])
names = sorted(p.name for p in (data / "images").glob("*.tif"))[::2]
images = np.stack([np.array(Image.open(data / "images" / n)) for n in names])
masks = np.stack([np.array(Image.open(data / "masks" / n)) for n in names])
assert images.min() >= -32768 and images.max() <= 32767
images.astype("<i2").tofile(out / "slices.i16")
(masks != 0).astype(np.uint8).tofile(out / "masks.u8")
print(f"{len(names)} slices {images.shape[1]} x {images.shape[2]}")
PY
xz -T0 -6 "$here/carry/lung/slices.i16" "$here/carry/lung/masks.u8"
du -sh "$here/carry"
