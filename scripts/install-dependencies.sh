#!/usr/bin/env bash
# Installs the Debian 12 packages that build, test and run FocusNet. Idempotent; run as root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libinsighttoolkit5-dev libtorch-dev libvtk9-dev libdcmtk-dev
  libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev libgoogle-perftools-dev
  pybind11-dev python3-dev python3-numpy python3-pytest python3-pydicom python3-gdcm python3-vtk9 python3-pil python3-scipy python3-torch
  python3-nibabel
  dicom3tools libxml2-utils libexpat1-dev xvfb xauth slurm-wlm munge patchelf
  orthanc orthanc-dicomweb dcmtk libcurl4-openssl-dev openssl
  debootstrap lintian file
)

# dcmjs (OHIF's DICOM library), which a test installs from the npm registry into a scratch folder, runs on Node.js:
# Debian's unless the machine has one already.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-dependencies: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
