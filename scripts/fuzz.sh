#!/bin/sh
# scripts/fuzz.sh — builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang in build-fuzz and runs
# each for FUZZ_SECONDS, starting from a scratch copy of its seed corpus (tests/fuzz/corpus/<target>/ is
# never written). Fails (exit 1) if any target crashes, leaks, times out or trips a sanitizer; the
# scratch directory with the reproducer and the log is then kept and printed. See docs/fuzzing.md.
#
# Environment (all optional):
#   FUZZ_SECONDS   seconds per target            (default 30; the release bar is 600)
#   FUZZ_TARGETS   space-separated subset, e.g. "fuzz_pat_compile" (default: every built target)
#   BUILD_DIR      build tree                    (default <repo>/build-fuzz)
#   FUZZ_WORK      scratch directory             (default: a new mktemp -d)
#   FUZZ_ARGS      extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_ARGS=${FUZZ_ARGS:-}
WORK=${FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/busbar-fuzz.XXXXXX")}
mkdir -p "$WORK"

cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_C_COMPILER=clang -DBUSBAR_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	>"$WORK/configure.log" 2>&1 || { cat "$WORK/configure.log"; exit 1; }
cmake --build "$BUILD_DIR" -j"$(nproc)" --target fuzz_all >"$WORK/build.log" 2>&1 ||
	{ tail -50 "$WORK/build.log"; echo "fuzz: build failed, log in $WORK/build.log"; exit 1; }

if [ -n "${FUZZ_TARGETS:-}" ]; then
	targets=$FUZZ_TARGETS
else
	targets=$(cd "$BUILD_DIR/fuzz" 2>/dev/null && ls fuzz_* 2>/dev/null || true)
fi
[ -n "$targets" ] || { echo "fuzz: no fuzz targets were built (libraries missing?)"; exit 1; }

status=0
for t in $targets; do
	bin=$BUILD_DIR/fuzz/$t
	[ -x "$bin" ] || { echo "fuzz: $t not built"; status=1; continue; }
	prefix=$(echo "$t" | sed 's/^fuzz_\([a-z]*\)_.*/\1/')
	dict=
	[ -f "$ROOT/tests/fuzz/$prefix.dict" ] && dict="-dict=$ROOT/tests/fuzz/$prefix.dict"
	mkdir -p "$WORK/$t/corpus" "$WORK/$t/artifacts"
	if [ -d "$ROOT/tests/fuzz/corpus/$t" ]; then
		cp "$ROOT/tests/fuzz/corpus/$t/"* "$WORK/$t/corpus/" 2>/dev/null || true
	fi
	echo "fuzz: $t for ${FUZZ_SECONDS}s"
	# shellcheck disable=SC2086
	if "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $dict \
		-artifact_prefix="$WORK/$t/artifacts/" $FUZZ_ARGS "$WORK/$t/corpus" >"$WORK/$t/log" 2>&1 &&
		[ -z "$(ls -A "$WORK/$t/artifacts")" ]; then
		runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$WORK/$t/log" | tail -1 | grep -o '[0-9]*$' || echo '?')
		cov=$(grep -o 'cov: [0-9]*' "$WORK/$t/log" | tail -1 || true)
		echo "fuzz: $t ok ($runs runs, $cov, corpus $(ls "$WORK/$t/corpus" | wc -l) inputs)"
	else
		echo "fuzz: $t FAILED — log $WORK/$t/log, reproducer(s) in $WORK/$t/artifacts/"
		grep -m1 -A15 'ERROR:\|==ERROR\|deadly signal\|timeout' "$WORK/$t/log" || tail -20 "$WORK/$t/log"
		status=1
	fi
done
if [ $status -eq 0 ] && [ -z "${FUZZ_WORK:-}" ]; then
	rm -rf "$WORK"
else
	echo "fuzz: work directory kept: $WORK"
fi
exit $status
