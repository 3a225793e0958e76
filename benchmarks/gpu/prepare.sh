#!/usr/bin/env bash
# Copies what benchmarks/gpu/run.sh needs and a GPU machine lacks into benchmarks/gpu/carry/ (ignored by git): the
# nlohmann_json headers of this machine (Debian's nlohmann-json3-dev).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$here/carry" && mkdir -p "$here/carry/include"
cp -r /usr/include/nlohmann "$here/carry/include/"
du -sh "$here/carry"
