#!/usr/bin/env bash
# README command 2: install what is missing, build with ASan+UBSan, and run every test:
# C unit tests (cmocka via ctest), integration tests (pytest + boto3 + AWS CLI against real busbar
# processes), and a short run of every fuzzer. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

BUILD=${BUILD_DIR:-build-test}
JOBS=$(nproc)
echo "== build ($BUILD, ASan+UBSan)"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUSBAR_SANITIZE=ON >/dev/null
cmake --build "$BUILD" -j"$JOBS"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "== unit tests (ctest)"
(cd "$BUILD" && ctest --output-on-failure -j"$JOBS")

echo "== integration tests (pytest)"
BUSBAR_BIN="$PWD/$BUILD/busbar" /usr/bin/python3 -m pytest tests/integration -q -p no:cacheprovider

if [ -x scripts/fuzz.sh ] && [ "${SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzzers (short run: FUZZ_SECONDS=${FUZZ_SECONDS:-30} each)"
  FUZZ_SECONDS=${FUZZ_SECONDS:-30} bash scripts/fuzz.sh
fi
echo "== all tests passed"
