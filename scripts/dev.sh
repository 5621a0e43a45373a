#!/usr/bin/env bash
# README command 1: install what is missing, build, and start Busbar on its embedded default
# (`busbar dev`: one node, account 000000000000, region us-east-1, key test/test, port 4010).
# Extra arguments go to `busbar dev` (see `build/busbar dev --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUSBAR_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target busbar >/dev/null
exec build/busbar dev "$@"
