#!/bin/sh
# bench/run-match.sh — builds a Release tree and runs every rule family of the matching benchmark
# (busbar-bench match), printing one line per family. Benchmarks never assert on time; the exit
# status is non-zero only when a family's match counts differ or something failed to build/run.
#
# Environment (all optional):
#   BUILD_DIR   build tree to use             (default: <repo>/build-release)
#   BENCH_DIR   the shared benchmark folder   (default: <repo>/../shared/bench)
#   DATA        events file                   (default: $BENCH_DIR/citylots2-syn.json.gz)
#   RULES_DIR   folder of FAMILY.tsv files    (default: $BENCH_DIR/rules)
#   FAMILIES    space-separated subset, e.g. "EXACT PREFIX" (default: every *.tsv in RULES_DIR)
#   PASSES      passes per family             (default: 5)
#   SIMD        engine SIMD level, --simd     (default: the best the CPU has)
#   BATCH       events per pat_match_batch, --batch (default 16; 1 = pat_match per event)
#   SMALL_PAGES 1: the events buffer in 4 KiB pages, --small-pages (default: 2 MiB pages asked)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-release}
BENCH_DIR=${BENCH_DIR:-$ROOT/../shared/bench}
DATA=${DATA:-$BENCH_DIR/citylots2-syn.json.gz}
RULES_DIR=${RULES_DIR:-$BENCH_DIR/rules}
PASSES=${PASSES:-5}

cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DBUSBAR_SANITIZE=OFF >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target busbar-bench >/dev/null

set --
if [ -n "${FAMILIES:-}" ]; then
	for fam in $FAMILIES; do set -- "$@" --rules "$RULES_DIR/$fam.tsv"; done
else
	for f in "$RULES_DIR"/*.tsv; do set -- "$@" --rules "$f"; done
fi
[ -n "${SIMD:-}" ] && set -- "$@" --simd "$SIMD"
[ -n "${BATCH:-}" ] && set -- "$@" --batch "$BATCH"
[ "${SMALL_PAGES:-0}" = 1 ] && set -- "$@" --small-pages
echo "# busbar-bench match: $(uname -n), $(nproc) cores, passes=$PASSES, data=$DATA" >&2
exec "$BUILD_DIR/busbar-bench" match --data "$DATA" --passes "$PASSES" "$@"
